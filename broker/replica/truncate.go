package replica

// truncation is where a follower truncates after the leader answered OffsetForLeaderEpoch for the
// follower's latest epoch with (leaderEpoch, leaderEndOffset): the end of the largest epoch the
// leader has that is not above the one asked (KIP-279). It follows Kafka's fetcher
// (AbstractFetcherThread.getOffsetTruncationState):
//
//   - The leader knows that epoch: truncate to the smaller of the leader's end offset for it and
//     ours, and of our log end. Done.
//   - The leader answered a smaller epoch, one the follower may not have: truncate to the end of
//     the largest epoch we have at or below it, and ask again with our new latest epoch (done is
//     false). Each round the epoch asked goes down, so the rounds end.
//   - We have no epoch at or below the leader's: truncate to the leader's end offset. Done.
//   - The leader has no epoch information (-1/-1): truncate to our high watermark, the only case
//     where the high watermark is used (Kafka's fallback for leaders without epochs).
//
// followerEndOffsetFor is the follower log's EndOffsetForEpoch.
func truncation(leaderEpoch int32, leaderEndOffset int64, logEndOffset, highWatermark int64,
	followerEndOffsetFor func(epoch int32) (int32, int64)) (offset int64, done bool) {
	switch {
	case leaderEndOffset < 0:
		return min(highWatermark, logEndOffset), true
	case leaderEpoch < 0:
		return min(leaderEndOffset, logEndOffset), true
	}
	followerEpoch, followerEnd := followerEndOffsetFor(leaderEpoch)
	switch {
	case followerEnd < 0:
		return min(leaderEndOffset, logEndOffset), true
	case followerEpoch != leaderEpoch:
		return min(followerEnd, logEndOffset), false
	}
	return min(leaderEndOffset, followerEnd, logEndOffset), true
}
