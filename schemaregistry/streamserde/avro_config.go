package streamserde

import "github.com/hamba/avro/v2"

// avroAPI is hamba/avro with bounds on what one record may make it allocate.
//
// NB: a corrupt or hostile record can declare an array of billions of elements or a string of
// gigabytes; hamba/avro's defaults allocate arrays up to the whole heap. A record's elements
// cannot outnumber its bytes by much (only null and empty records take no bytes), so 1 Mi
// elements and 16 MiB per string or bytes value bound the damage without refusing real data.
var avroAPI = avro.Config{MaxByteSliceSize: 16 << 20, MaxSliceAllocSize: 1 << 20}.Freeze()
