package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestArchiveFlags(t *testing.T) {
	creds := t.TempDir()
	for name, v := range map[string]string{s3AccessKeyFile: "AK-from-file\n", s3SecretKeyFile: "SK-from-file\n"} {
		if err := os.WriteFile(filepath.Join(creds, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // the archive's String(), "" for none
		err  string
	}{
		{"none", nil, nil, "", ""},
		{"directory", []string{"--log-archive", "/var/archive"}, nil, "/var/archive", ""},
		{"bucket", []string{"--log-archive-s3-endpoint", "http://s3.local:8333", "--log-archive-s3-bucket", "logs", "--log-archive-s3-prefix", "/ci/"},
			map[string]string{envS3AccessKey: "AK", envS3SecretKey: "SK"}, "s3://logs/ci at http://s3.local:8333", ""},
		{"aws env", []string{"--log-archive-s3-endpoint", "https://s3.amazonaws.com", "--log-archive-s3-bucket", "logs"},
			map[string]string{"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"}, "s3://logs/ at https://s3.amazonaws.com", ""},
		{"credentials dir", []string{"--log-archive-s3-endpoint", "http://s3.local", "--log-archive-s3-bucket", "logs", "--log-archive-s3-credentials", creds},
			nil, "s3://logs/ at http://s3.local", ""},
		{"missing credentials file", []string{"--log-archive-s3-endpoint", "http://s3.local", "--log-archive-s3-bucket", "logs", "--log-archive-s3-credentials", t.TempDir()},
			nil, "", "--log-archive-s3-credentials"},
		{"half credentials", []string{"--log-archive-s3-endpoint", "http://s3.local", "--log-archive-s3-bucket", "logs"},
			map[string]string{envS3AccessKey: "AK"}, "", "go together"},
		{"bucket without endpoint", []string{"--log-archive-s3-bucket", "logs"}, nil, "", "--log-archive-s3-endpoint"},
		{"both", []string{"--log-archive", "/d", "--log-archive-s3-endpoint", "http://s3.local", "--log-archive-s3-bucket", "b"}, nil, "", "exclude each other"},
		{"bad endpoint", []string{"--log-archive-s3-endpoint", "s3.local", "--log-archive-s3-bucket", "b"}, nil, "", "http(s)://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f := addArchiveFlags(fs, "dir")
			f.getenv = func(k string) string { return tc.env[k] }
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			a, err := f.archive()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			got := ""
			if a != nil {
				got = a.String()
			}
			if err != nil || got != tc.want {
				t.Fatalf("archive %q (%v), want %q", got, err, tc.want)
			}
			for _, secret := range []string{"SK", "SK-from-file"} {
				if strings.Contains(got, secret) {
					t.Fatalf("the archive's name shows a secret: %q", got)
				}
			}
		})
	}
}
