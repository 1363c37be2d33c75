package kinesdtest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// registerConsumer registers an enhanced fan-out consumer, checks that it
// starts CREATING, and polls DescribeStreamConsumer until it is ACTIVE.
func registerConsumer(ctx context.Context, t *testing.T, client *kinesis.Client, streamARN, name string) types.ConsumerDescription {
	t.Helper()
	out, err := client.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
		StreamARN: aws.String(streamARN), ConsumerName: aws.String(name),
	})
	if err != nil {
		t.Fatalf("RegisterStreamConsumer %s: %v", name, err)
	}
	consumer := out.Consumer
	if consumer == nil || aws.ToString(consumer.ConsumerName) != name || consumer.ConsumerARN == nil ||
		consumer.ConsumerCreationTimestamp == nil {
		t.Fatalf("RegisterStreamConsumer %s: %+v", name, consumer)
	}
	if consumer.ConsumerStatus != types.ConsumerStatusCreating {
		t.Fatalf("RegisterStreamConsumer %s: status %s, want CREATING", name, consumer.ConsumerStatus)
	}
	for polls := 0; ; polls++ {
		desc, err := client.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: consumer.ConsumerARN})
		if err != nil {
			t.Fatalf("DescribeStreamConsumer %s: %v", name, err)
		}
		d := desc.ConsumerDescription
		if aws.ToString(d.ConsumerARN) != aws.ToString(consumer.ConsumerARN) || aws.ToString(d.StreamARN) != streamARN ||
			aws.ToString(d.ConsumerName) != name {
			t.Fatalf("DescribeStreamConsumer %s: %+v", name, d)
		}
		switch d.ConsumerStatus {
		case types.ConsumerStatusActive:
			return *d
		case types.ConsumerStatusCreating:
		default:
			t.Fatalf("consumer %s: status %s while waiting for ACTIVE", name, d.ConsumerStatus)
		}
		if polls > 600 {
			t.Fatalf("consumer %s still CREATING after %d polls", name, polls)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestConsumerRegistration(t *testing.T) {
	ctx := testContext(t, 2*time.Minute)
	client := newClient(noRetries)
	summary := createStream(ctx, t, client, "go-consumers", 1)
	streamARN := aws.ToString(summary.StreamARN)

	active := registerConsumer(ctx, t, client, streamARN, "go-consumer-a")

	byName, err := client.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{
		StreamARN: aws.String(streamARN), ConsumerName: aws.String("go-consumer-a"),
	})
	if err != nil {
		t.Fatalf("DescribeStreamConsumer by stream and name: %v", err)
	}
	if aws.ToString(byName.ConsumerDescription.ConsumerARN) != aws.ToString(active.ConsumerARN) {
		t.Errorf("by name: ARN %s, by ARN: %s",
			aws.ToString(byName.ConsumerDescription.ConsumerARN), aws.ToString(active.ConsumerARN))
	}

	listed, err := client.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: aws.String(streamARN)})
	if err != nil {
		t.Fatalf("ListStreamConsumers: %v", err)
	}
	if len(listed.Consumers) != 1 || aws.ToString(listed.Consumers[0].ConsumerARN) != aws.ToString(active.ConsumerARN) ||
		listed.Consumers[0].ConsumerStatus != types.ConsumerStatusActive {
		t.Errorf("ListStreamConsumers: %+v", listed.Consumers)
	}

	_, err = client.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
		StreamARN: aws.String(streamARN), ConsumerName: aws.String("go-consumer-a"),
	})
	requireAPIError[*types.ResourceInUseException](t, err, "RegisterStreamConsumer with a name in use")

	_, err = client.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{
		StreamARN: aws.String(streamARN), ConsumerName: aws.String("go-consumer-missing"),
	})
	requireAPIError[*types.ResourceNotFoundException](t, err, "DescribeStreamConsumer of a missing consumer")
}
