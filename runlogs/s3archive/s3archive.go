// Package s3archive keeps the log archive of retention (runlogs.Archive) in an S3-compatible bucket
// through minio-go (the client library, Apache-2.0): AWS S3, SeaweedFS, Ceph RGW, Garage, … Objects are
// PREFIX/NAMESPACE/NAME.log and PREFIX/NAMESPACE/NAME.json. A PUT is atomic in S3: a reader never sees
// part of an object.
package s3archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Config says where the bucket is and how to sign requests.
type Config struct {
	// Endpoint is the S3 API's URL: https://s3.eu-west-1.amazonaws.com, http://seaweedfs:8333, … (the
	// scheme decides TLS).
	Endpoint string
	Bucket   string
	// Prefix is put before every key ("" or e.g. "hookrun/archive").
	Prefix string
	// Region is the bucket's region (default: found by the client, us-east-1 for most S3-compatible servers).
	Region string
	// AccessKey and SecretKey sign requests (both empty: anonymous).
	AccessKey, SecretKey string
	// Transport, when set, carries the requests (tests, proxies).
	Transport http.RoundTripper
}

// Store is a runlogs.ObjectStore in one bucket.
type Store struct {
	c              *minio.Client
	bucket, prefix string
	endpoint       string
}

// New checks cfg and returns the store. It makes no request (Check does).
func New(cfg Config) (*Store, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("s3 endpoint %q: want http(s)://HOST[:PORT] with no path", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("s3: no bucket named")
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("s3: the access key and the secret key go together: one of them is empty")
	}
	opts := &minio.Options{Secure: u.Scheme == "https", Region: cfg.Region, BucketLookup: minio.BucketLookupAuto, Transport: cfg.Transport}
	if cfg.AccessKey != "" {
		opts.Creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		opts.Creds = credentials.New(&credentials.Static{}) // anonymous
	}
	c, err := minio.New(u.Host, opts)
	if err != nil {
		return nil, fmt.Errorf("s3 %s: %w", cfg.Endpoint, err)
	}
	return &Store{c: c, bucket: cfg.Bucket, prefix: strings.Trim(cfg.Prefix, "/"), endpoint: u.Scheme + "://" + u.Host}, nil
}

func (s *Store) String() string {
	return "s3://" + s.bucket + "/" + s.prefix + " at " + s.endpoint
}

func (s *Store) key(k string) string {
	if s.prefix == "" {
		return k
	}
	return s.prefix + "/" + k
}

// Check asks the server whether the bucket exists: a wrong endpoint, credentials or bucket shows at
// start-up, not at the first deletion.
func (s *Store) Check(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	if !ok {
		return fmt.Errorf("%s: the bucket does not exist", s)
	}
	return nil
}

// Put stores data under key.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	ct := "text/plain; charset=utf-8"
	if strings.HasSuffix(key, ".json") {
		ct = "application/json"
	}
	_, err := s.c.PutObject(ctx, s.bucket, s.key(key), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{ContentType: ct})
	return err
}

// Open reads the object; a missing one is an error wrapping fs.ErrNotExist.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.c.GetObject(ctx, s.bucket, s.key(key), minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat() // GetObject is lazy: the answer comes with the first read
	}
	if err != nil {
		if obj != nil {
			_ = obj.Close()
		}
		return nil, notExist(err, key)
	}
	return obj, nil
}

// Exists reports whether the object is there.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	_, err := s.c.StatObject(ctx, s.bucket, s.key(key), minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if err := notExist(err, key); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// notExist maps S3's NoSuchKey (404) to fs.ErrNotExist.
func notExist(err error, key string) error {
	r := minio.ToErrorResponse(err)
	if r.Code == minio.NoSuchKey || r.StatusCode == http.StatusNotFound && r.Code != minio.NoSuchBucket {
		return fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	return err
}
