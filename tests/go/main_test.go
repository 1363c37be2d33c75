// Package kinesdtest drives a running kinesd with the AWS SDK for Go v2
// Kinesis client: JSON 1.1 over HTTP/1.1, SigV4 with fake credentials, the
// endpoint overridden with BaseEndpoint.
package kinesdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

var server *kinesd

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	s, err := startKinesd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot start kinesd:", err)
		return 1
	}
	server = s
	defer s.remove()
	code := m.Run()
	if err := s.stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if code != 0 {
		fmt.Fprintln(os.Stderr, s.logTail())
	}
	return code
}

func newClient(optFns ...func(*kinesis.Options)) *kinesis.Client {
	return clientFor(server, optFns...)
}

func clientFor(s *kinesd, optFns ...func(*kinesis.Options)) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDKINESDTEST", "kinesd-test-secret", ""),
		HTTPClient:   ownBodyClient{awshttp.NewBuildableClient()},
	}, optFns...)
}

// ownBodyClient hands net/http a request body of its own. The SDK closes
// the body it built as soon as the response headers are in, and that body
// then answers net/http's final check for extra body bytes with io.EOF,
// which net/http takes for a failed write and closes the connection. A
// server as quick as one on loopback answers before that check, so an event
// stream read through the connection broke at random with "use of closed
// network connection". With a body of its own, the SDK's close touches
// nothing net/http still uses.
type ownBodyClient struct{ inner *awshttp.BuildableClient }

func (c ownBodyClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return c.inner.Do(req)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	own := req.Clone(req.Context())
	own.Body = io.NopCloser(bytes.NewReader(body))
	own.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return c.inner.Do(own)
}

// noRetries makes an error reach the test as the server sent it.
func noRetries(o *kinesis.Options) { o.RetryMaxAttempts = 1 }

func testContext(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return ctx
}

// createStream creates a provisioned stream and waits with the SDK's own
// waiter until it is ACTIVE.
func createStream(ctx context.Context, t *testing.T, client *kinesis.Client, name string, shards int32) *types.StreamDescriptionSummary {
	t.Helper()
	if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int32(shards),
	}); err != nil {
		t.Fatalf("CreateStream %s: %v", name, err)
	}
	waiter := kinesis.NewStreamExistsWaiter(client, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := waiter.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, time.Minute); err != nil {
		t.Fatalf("waiting for %s to become ACTIVE: %v", name, err)
	}
	out, err := client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeStreamSummary %s: %v", name, err)
	}
	summary := out.StreamDescriptionSummary
	if summary.StreamStatus != types.StreamStatusActive || aws.ToInt32(summary.OpenShardCount) != shards {
		t.Fatalf("stream %s: status %s with %d open shards, want ACTIVE with %d",
			name, summary.StreamStatus, aws.ToInt32(summary.OpenShardCount), shards)
	}
	return summary
}

func shardIDs(ctx context.Context, t *testing.T, client *kinesis.Client, stream string) []string {
	t.Helper()
	out, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatalf("ListShards %s: %v", stream, err)
	}
	ids := make([]string, 0, len(out.Shards))
	for _, s := range out.Shards {
		ids = append(ids, aws.ToString(s.ShardId))
	}
	return ids
}

// requireAPIError checks that err carries the modeled AWS error type T and
// returns it.
func requireAPIError[T error](t *testing.T, err error, what string) T {
	t.Helper()
	var target T
	if err == nil {
		t.Fatalf("%s: succeeded, want %T", what, target)
	}
	if !errors.As(err, &target) {
		t.Fatalf("%s: got %T %v, want %T", what, err, err, target)
	}
	return target
}
