package kinesdtest

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Bad input comes back as the error types the SDK models, so callers can
// branch on them with errors.As.
func TestBadInputGivesModeledErrors(t *testing.T) {
	ctx := testContext(t, 2*time.Minute)
	client := newClient(noRetries)
	const stream = "go-bad-input"
	createStream(ctx, t, client, stream, 1)

	_, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(1)})
	requireAPIError[*types.ResourceInUseException](t, err, "CreateStream of an existing name")

	_, err = client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String("go-no-such-stream"), ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	requireAPIError[*types.ResourceNotFoundException](t, err, "GetShardIterator on a missing stream")

	_, err = client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(stream), ShardId: aws.String("shardId-000000000007"),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	requireAPIError[*types.ResourceNotFoundException](t, err, "GetShardIterator on a missing shard")

	// The SDK checks only that required members are present; lengths and
	// counts are the server's to check.
	_, err = client.PutRecord(ctx, &kinesis.PutRecordInput{
		StreamName: aws.String(stream), PartitionKey: aws.String(""), Data: []byte("x"),
	})
	ve := requireAPIError[*types.ValidationException](t, err, "PutRecord with an empty partition key")
	if !strings.Contains(ve.ErrorMessage(), "partitionKey") {
		t.Errorf("empty partition key: message %q does not name partitionKey", ve.ErrorMessage())
	}

	entries := make([]types.PutRecordsRequestEntry, 501)
	for i := range entries {
		entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: []byte("x")}
	}
	_, err = client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	requireAPIError[*types.ValidationException](t, err, "PutRecords with 501 entries")

	it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(stream), ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeLatest,
	})
	if err != nil {
		t.Fatalf("GetShardIterator: %v", err)
	}
	_, err = client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(10001)})
	requireAPIError[*types.ValidationException](t, err, "GetRecords with Limit 10001")

	_, err = client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(stream), ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber,
	})
	requireAPIError[*types.InvalidArgumentException](t, err, "AT_SEQUENCE_NUMBER without a sequence number")
}
