package kinesdtest

import (
	"math/rand"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// A subscription ends by itself after the server's lifetime (5 minutes on
// AWS, shortened here), sending heartbeats while idle; the SDK sees a clean
// end, and the consumer resumes from the last continuation number.
func TestSubscriptionLifetimeAndHeartbeats(t *testing.T) {
	const lifetime, heartbeat = 3 * time.Second, 200 * time.Millisecond
	short, err := startKinesd("--subscription-lifetime-ms", strconv.Itoa(int(lifetime/time.Millisecond)),
		"--subscribe-heartbeat-ms", strconv.Itoa(int(heartbeat/time.Millisecond)))
	if err != nil {
		t.Fatalf("cannot start kinesd: %v", err)
	}
	defer short.remove()
	defer func() {
		if err := short.stop(); err != nil {
			t.Error(err)
		}
	}()
	ctx := testContext(t, 2*time.Minute)
	client := clientFor(short, noRetries)
	const stream = "go-lifetime"
	summary := createStream(ctx, t, client, stream, 1)
	shard := shardIDs(ctx, t, client, stream)[0]
	consumer := registerConsumer(ctx, t, client, aws.ToString(summary.StreamARN), "go-lifetime")
	consumerARN := aws.ToString(consumer.ConsumerARN)

	sub := subscribe(ctx, t, client, consumerARN, shard, types.StartingPosition{Type: types.ShardIteratorTypeLatest})
	events, continuation := 0, ""
	for {
		ev, open := <-sub.stream.Events()
		if !open {
			break
		}
		member, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		if !ok {
			t.Fatalf("unexpected event %T", ev)
		}
		checkEventFields(t, member.Value)
		if len(member.Value.Records) != 0 {
			t.Fatalf("records on an idle shard: %+v", member.Value.Records)
		}
		events++
		continuation = *member.Value.ContinuationSequenceNumber
	}
	lasted := time.Since(sub.started)
	if err := sub.stream.Err(); err != nil {
		t.Fatalf("the stream ended with %v, want a clean end", err)
	}
	// The server keeps time in milliseconds: its end may come up to one
	// early by this client's clock.
	if lasted < lifetime-10*time.Millisecond {
		t.Errorf("the stream ended after %v, before its lifetime of %v", lasted, lifetime)
	}
	// Fifteen heartbeat periods fit in the lifetime; three events is a
	// margin no scheduling delay should eat.
	if events < 3 {
		t.Errorf("%d events in %v with a %v heartbeat", events, lasted, heartbeat)
	}

	rng := rand.New(rand.NewSource(3))
	before := time.Now()
	sent := putBatch(ctx, t, client, stream, rng, 10, "after-end")
	after := time.Now()
	resumed := resubscribe(ctx, t, client, consumerARN, shard, types.StartingPosition{
		Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: aws.String(continuation),
	})
	got, _ := resumed.collect(t, len(sent))
	sameRecords(t, "records put after the stream ended", got, sent, before, after)
	resumed.stream.Close()
}
