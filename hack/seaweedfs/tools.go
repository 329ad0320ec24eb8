//go:build tools

// Package tools pins SeaweedFS (Apache-2.0), whose `weed server -s3` is the real S3-compatible server the
// retention archive tests run against (make builds it into bin/weed).
package tools

import (
	_ "github.com/seaweedfs/seaweedfs/weed"
)
