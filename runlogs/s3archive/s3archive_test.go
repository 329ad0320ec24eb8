package s3archive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/runlogs"
	"github.com/hookrun/hookrun/runlogs/s3archive"
)

const (
	accessKey = "hookrun-test-access"
	secretKey = "hookrun-test-secret-key-0123456789"
	bucket    = "hookrun-archive"
)

// weed starts a real S3 server: SeaweedFS (master, volume, filer and S3 gateway in one process, built
// into bin/weed by `make $(BIN)/weed`) with one identity, and returns its S3 endpoint with the bucket made.
func weed(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("HOOKRUN_WEED")
	if bin == "" {
		bin, _ = filepath.Abs("../../bin/weed")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no SeaweedFS binary at %s (build it with `make bin/weed`, or set HOOKRUN_WEED): %v", bin, err)
	}
	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"identities": []any{map[string]any{
		"name": "hookrun", "credentials": []any{map[string]string{"accessKey": accessKey, "secretKey": secretKey}},
		"actions": []string{"Admin", "Read", "List", "Tagging", "Write"}}}})
	if err := os.WriteFile(filepath.Join(dir, "s3.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	// HTTP ports base..base+3; SeaweedFS puts each gRPC port 10000 above its HTTP port.
	base := freeBase(t)
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir="+data, "-filer", "-s3",
		fmt.Sprint("-master.port=", base), fmt.Sprint("-volume.port=", base+1), fmt.Sprint("-filer.port=", base+2),
		fmt.Sprint("-s3.port=", base+3), "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config="+filepath.Join(dir, "s3.json"),
		"-volume.max=4", "-master.volumeSizeLimitMB=64")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("weed output:\n%s", tail(out.String(), 4000))
		}
	})
	endpoint := fmt.Sprintf("127.0.0.1:%d", base+3)
	c, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(accessKey, secretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
		cancel()
		if err == nil {
			return "http://" + endpoint
		}
		if time.Now().After(deadline) {
			t.Fatalf("SeaweedFS S3 at %s not ready in 90 s: %v", endpoint, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// freeBase finds four consecutive free ports whose +10000 neighbours are free too.
func freeBase(t *testing.T) int {
	t.Helper()
	for range 50 {
		base := 20000 + rand.IntN(25000)
		ok := true
		for _, p := range []int{base, base + 1, base + 2, base + 3, base + 10000, base + 10001, base + 10002, base + 10003} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			_ = l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}

// TestArchiveRoundTrip: what retention archives into a real S3 server (SeaweedFS) reads back identical
// through the runlogs.Archive a deleted run is served from; a missing run, wrong credentials and a
// missing bucket are told apart.
func TestArchiveRoundTrip(t *testing.T) {
	endpoint := weed(t)
	ctx := context.Background()
	store, err := s3archive.New(s3archive.Config{Endpoint: endpoint, Bucket: bucket, Prefix: "ci/archive", AccessKey: accessKey, SecretKey: secretKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(store.String(), secretKey) || strings.Contains(store.String(), accessKey) {
		t.Fatalf("the store's name shows a credential: %s", store)
	}
	archive := &runlogs.Archive{Store: store}
	logs := bytes.Repeat([]byte("[build : step-compile] line with ünïcode and \x00 bytes\n"), 40000) // ≈2 MB: a multipart-sized body
	pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "build-x7k2p"}}
	pr.Status.SetCondition(pipelinev1.Condition{Type: pipelinev1.ConditionSucceeded, Status: "True", Reason: "Succeeded"})
	run, _ := json.Marshal(pr)
	if err := store.Put(ctx, "team-a/build-x7k2p.log", logs); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, "team-a/build-x7k2p.json", run); err != nil {
		t.Fatal(err)
	}
	if !archive.Has(ctx, "team-a", "build-x7k2p") || archive.Has(ctx, "team-a", "other") {
		t.Fatal("Has: want the archived run only")
	}
	var got bytes.Buffer
	if err := archive.Copy(ctx, &got, "team-a", "build-x7k2p"); err != nil || !bytes.Equal(got.Bytes(), logs) {
		t.Fatalf("logs read back: %d bytes (%v), want %d identical", got.Len(), err, len(logs))
	}
	back, err := archive.Run(ctx, "team-a", "build-x7k2p")
	if err != nil || back.Name != pr.Name || back.Status.GetCondition(pipelinev1.ConditionSucceeded).Reason != "Succeeded" {
		t.Fatalf("run read back: %+v %v", back, err)
	}
	// The objects are where the prefix says, seen by a plain S3 client.
	c, _ := minio.New(strings.TrimPrefix(endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(accessKey, secretKey, "")})
	if _, err := c.StatObject(ctx, bucket, "ci/archive/team-a/build-x7k2p.log", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("object key: %v", err)
	}
	if err := archive.Copy(ctx, &got, "team-a", "gone"); !errors.Is(err, runlogs.ErrNotArchived) {
		t.Fatalf("missing run: %v, want ErrNotArchived", err)
	}
	if _, err := archive.Run(ctx, "team-a", "gone"); !errors.Is(err, runlogs.ErrNotArchived) {
		t.Fatalf("missing run: %v, want ErrNotArchived", err)
	}
	for name, cfg := range map[string]s3archive.Config{
		"wrong secret":   {Endpoint: endpoint, Bucket: bucket, AccessKey: accessKey, SecretKey: "not-the-secret-key-at-all"},
		"missing bucket": {Endpoint: endpoint, Bucket: "no-such-bucket", AccessKey: accessKey, SecretKey: secretKey},
	} {
		s, err := s3archive.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Check(ctx)
		if err == nil || strings.Contains(err.Error(), cfg.SecretKey) {
			t.Fatalf("%s: Check gave %v", name, err)
		}
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  s3archive.Config
		want string
	}{
		{"no scheme", s3archive.Config{Endpoint: "s3.example.com", Bucket: "b"}, "http(s)://"},
		{"path", s3archive.Config{Endpoint: "https://s3.example.com/bucket", Bucket: "b"}, "no path"},
		{"no bucket", s3archive.Config{Endpoint: "https://s3.example.com"}, "bucket"},
		{"half credentials", s3archive.Config{Endpoint: "https://s3.example.com", Bucket: "b", AccessKey: "a"}, "go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s3archive.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}
