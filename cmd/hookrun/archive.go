package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hookrun/hookrun/runlogs"
	"github.com/hookrun/hookrun/runlogs/s3archive"
)

// archiveFlags say where retention's log archive is: a directory (--log-archive) or an S3-compatible
// bucket (--log-archive-s3-…). The executor writes it; hookrun logs and the dashboard read it.
//
// S3 credentials are never flags (a command line shows in ps and in the Pod spec): the environment
// (HOOKRUN_S3_ACCESS_KEY and HOOKRUN_S3_SECRET_KEY, else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, e.g.
// from a Secret with envFrom), or --log-archive-s3-credentials DIR, a mounted Secret holding the files
// access-key and secret-key. They appear in no log line.
type archiveFlags struct {
	dir                              string
	endpoint, bucket, prefix, region string
	credentialsDir                   string
	getenv                           func(string) string
}

// S3 credential sources.
const (
	envS3AccessKey    = "HOOKRUN_S3_ACCESS_KEY"
	envS3SecretKey    = "HOOKRUN_S3_SECRET_KEY"
	s3AccessKeyFile   = "access-key"
	s3SecretKeyFile   = "secret-key"
	s3CheckTimeout    = 10 * time.Second
	s3CredentialsFlag = "log-archive-s3-credentials"
)

func addArchiveFlags(fs *flag.FlagSet, dirUsage string) *archiveFlags {
	f := &archiveFlags{getenv: os.Getenv}
	fs.StringVar(&f.dir, "log-archive", "", dirUsage)
	fs.StringVar(&f.endpoint, "log-archive-s3-endpoint", "", "keep the log archive in an S3-compatible bucket at this URL (http(s)://HOST[:PORT]) instead of a directory")
	fs.StringVar(&f.bucket, "log-archive-s3-bucket", "", "the bucket of the S3 log archive (it must exist)")
	fs.StringVar(&f.prefix, "log-archive-s3-prefix", "", "key prefix of the S3 log archive's objects")
	fs.StringVar(&f.region, "log-archive-s3-region", "", "region of the S3 log archive's bucket (default: asked of the server)")
	fs.StringVar(&f.credentialsDir, s3CredentialsFlag, "", "directory (a mounted Secret) with the files "+s3AccessKeyFile+" and "+s3SecretKeyFile+
		" (default: $"+envS3AccessKey+" and $"+envS3SecretKey+", else $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY)")
	return f
}

// set reports whether an archive was asked for.
func (f *archiveFlags) set() bool { return f.dir != "" || f.endpoint != "" || f.bucket != "" }

// archive builds the archive the flags name (nil when none). It makes no request: check does.
func (f *archiveFlags) archive() (*runlogs.Archive, error) {
	s3 := f.endpoint != "" || f.bucket != "" || f.prefix != "" || f.region != "" || f.credentialsDir != ""
	switch {
	case !s3:
		if f.dir == "" {
			return nil, nil
		}
		return &runlogs.Archive{Dir: f.dir}, nil
	case f.dir != "":
		return nil, errors.New("--log-archive (a directory) and --log-archive-s3-… (a bucket) exclude each other")
	case f.endpoint == "" || f.bucket == "":
		return nil, errors.New("an S3 log archive needs --log-archive-s3-endpoint and --log-archive-s3-bucket")
	}
	ak, sk, err := f.credentials()
	if err != nil {
		return nil, err
	}
	store, err := s3archive.New(s3archive.Config{Endpoint: f.endpoint, Bucket: f.bucket, Prefix: f.prefix, Region: f.region, AccessKey: ak, SecretKey: sk})
	if err != nil {
		return nil, err
	}
	return &runlogs.Archive{Store: store}, nil
}

func (f *archiveFlags) credentials() (access, secret string, err error) {
	if f.credentialsDir != "" {
		read := func(name string) (string, error) {
			b, err := os.ReadFile(filepath.Join(f.credentialsDir, name))
			if err != nil {
				return "", fmt.Errorf("--%s: %w", s3CredentialsFlag, err)
			}
			return strings.TrimSpace(string(b)), nil
		}
		if access, err = read(s3AccessKeyFile); err != nil {
			return "", "", err
		}
		secret, err = read(s3SecretKeyFile)
		return access, secret, err
	}
	for _, pair := range [][2]string{{envS3AccessKey, envS3SecretKey}, {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}} {
		if a, s := f.getenv(pair[0]), f.getenv(pair[1]); a != "" || s != "" {
			return a, s, nil
		}
	}
	return "", "", nil // anonymous
}

// checkArchive asks an S3 archive's server whether its bucket is there, so a wrong endpoint, bucket or
// credentials stop the command at once.
func checkArchive(ctx context.Context, a *runlogs.Archive) error {
	s, ok := a.Store.(*s3archive.Store)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s3CheckTimeout)
	defer cancel()
	return s.Check(ctx)
}
