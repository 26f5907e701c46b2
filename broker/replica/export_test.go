package replica

// Helpers of the internal tests, for the external ones (broker_leader_test.go).
var (
	OpenLog    = openLog
	AppendAt   = appendAt
	Follower   = follower
	Quiet      = quiet
	Dialer     = dialer
	ReadLog    = readLog
	TryReadLog = tryReadLog
	Values     = values
)
