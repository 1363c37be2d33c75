package kinesdtest

// SubscribeToShard through the SDK's event stream reader. The SDK's
// SubscribeToShard call itself returns only after it has read the
// initial-response message, so a call that returns proves that message came
// first; everything after it arrives on GetStream().Events().

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// A subscription sends at least one event this often while idle (the
// server's heartbeat); waits allow several of those before failing.
const eventWait = 30 * time.Second

// The server refuses a second subscription for the same consumer and shard
// this soon after the previous one started.
const resubscribeGuard = 5 * time.Second

type subscription struct {
	stream  *kinesis.SubscribeToShardEventStream
	started time.Time
}

func subscribe(ctx context.Context, t *testing.T, client *kinesis.Client, consumerARN, shard string, position types.StartingPosition) *subscription {
	t.Helper()
	started := time.Now()
	out, err := client.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN: aws.String(consumerARN), ShardId: aws.String(shard), StartingPosition: &position,
	})
	if err != nil {
		t.Fatalf("SubscribeToShard %s from %s: %v", shard, position.Type, err)
	}
	sub := &subscription{stream: out.GetStream(), started: started}
	t.Cleanup(func() { sub.stream.Close() })
	return sub
}

// nextEvent waits for one SubscribeToShardEvent; the stream ending or an
// event of another kind fails the test.
func (s *subscription) nextEvent(t *testing.T, limit time.Duration) types.SubscribeToShardEvent {
	t.Helper()
	select {
	case ev, open := <-s.stream.Events():
		if !open {
			t.Fatalf("the event stream ended: %v", s.stream.Err())
		}
		member, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		if !ok {
			t.Fatalf("unexpected event %T %+v", ev, ev)
		}
		checkEventFields(t, member.Value)
		return member.Value
	case <-time.After(limit):
		t.Fatalf("no event within %v", limit)
	}
	panic("unreachable")
}

func checkEventFields(t *testing.T, ev types.SubscribeToShardEvent) {
	t.Helper()
	if ev.ContinuationSequenceNumber == nil || *ev.ContinuationSequenceNumber == "" {
		t.Fatalf("event on an open shard without ContinuationSequenceNumber: %+v", ev)
	}
	if ev.MillisBehindLatest == nil || *ev.MillisBehindLatest < 0 {
		t.Fatalf("event with MillisBehindLatest %v", ev.MillisBehindLatest)
	}
	if n := len(ev.Records); n > 0 {
		last := aws.ToString(ev.Records[n-1].SequenceNumber)
		if sequenceLess(*ev.ContinuationSequenceNumber, last) {
			t.Fatalf("ContinuationSequenceNumber %s is before the event's last record %s",
				*ev.ContinuationSequenceNumber, last)
		}
	}
}

// collect reads events until n records have arrived and returns them with
// the last event's ContinuationSequenceNumber.
func (s *subscription) collect(t *testing.T, n int) ([]types.Record, string) {
	t.Helper()
	var records []types.Record
	continuation := ""
	for len(records) < n {
		ev := s.nextEvent(t, eventWait)
		records = append(records, ev.Records...)
		continuation = *ev.ContinuationSequenceNumber
	}
	if len(records) != n {
		t.Fatalf("got %d records, want %d: extra records arrived", len(records), n)
	}
	return records, continuation
}

// putBatch puts records on the stream's single shard, half with PutRecord and
// half in one PutRecords call, and returns them as acknowledged.
func putBatch(ctx context.Context, t *testing.T, client *kinesis.Client, stream string, rng *rand.Rand, n int, tag string) []putRecord {
	t.Helper()
	var sent []putRecord
	for i := 0; i < n/2; i++ {
		rec := putRecord{key: fmt.Sprintf("%s-%d", tag, i%5), data: recordData(rng, i+1)}
		out, err := client.PutRecord(ctx, &kinesis.PutRecordInput{
			StreamName: aws.String(stream), PartitionKey: aws.String(rec.key), Data: rec.data,
		})
		if err != nil {
			t.Fatalf("PutRecord: %v", err)
		}
		rec.shardID, rec.sequence = aws.ToString(out.ShardId), aws.ToString(out.SequenceNumber)
		sent = append(sent, rec)
	}
	var entries []types.PutRecordsRequestEntry
	start := len(sent)
	for i := start; i < n; i++ {
		rec := putRecord{key: fmt.Sprintf("%s-%d", tag, i%5), data: recordData(rng, i+1)}
		sent = append(sent, rec)
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(rec.key), Data: rec.data})
	}
	out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords: %v %+v", err, out)
	}
	for i, r := range out.Records {
		sent[start+i].shardID, sent[start+i].sequence = aws.ToString(r.ShardId), aws.ToString(r.SequenceNumber)
	}
	return sent
}

// sameRecords: got is exactly want, in order, byte for byte.
func sameRecords(t *testing.T, what string, got []types.Record, want []putRecord, before, after time.Time) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range want {
		g := got[i]
		if aws.ToString(g.SequenceNumber) != want[i].sequence || aws.ToString(g.PartitionKey) != want[i].key ||
			!bytes.Equal(g.Data, want[i].data) {
			t.Fatalf("%s: record %d is %s/%q (%d bytes), want %s/%q (%d bytes)", what, i,
				aws.ToString(g.SequenceNumber), aws.ToString(g.PartitionKey), len(g.Data),
				want[i].sequence, want[i].key, len(want[i].data))
		}
		arrival := g.ApproximateArrivalTimestamp
		if arrival == nil || arrival.Before(before.Add(-time.Millisecond)) || arrival.After(after.Add(time.Millisecond)) {
			t.Fatalf("%s: record %d ApproximateArrivalTimestamp %v outside [%v, %v]", what, i, arrival, before, after)
		}
	}
}

func TestSubscribeToShard(t *testing.T) {
	ctx := testContext(t, 5*time.Minute)
	client := newClient(noRetries)
	const stream = "go-subscribe"
	summary := createStream(ctx, t, client, stream, 1)
	shard := shardIDs(ctx, t, client, stream)[0]
	consumer := registerConsumer(ctx, t, client, aws.ToString(summary.StreamARN), "go-subscriber")
	consumerARN := aws.ToString(consumer.ConsumerARN)
	rng := rand.New(rand.NewSource(5))

	// Records already in the shard arrive first, in order.
	before := time.Now()
	backlog := putBatch(ctx, t, client, stream, rng, 100, "backlog")
	afterBacklog := time.Now()
	sub := subscribe(ctx, t, client, consumerARN, shard, types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	got, _ := sub.collect(t, len(backlog))
	sameRecords(t, "backlog from TRIM_HORIZON", got, backlog, before, afterBacklog)

	// Records put while subscribed are pushed.
	before = time.Now()
	live := putBatch(ctx, t, client, stream, rng, 40, "live")
	afterLive := time.Now()
	got, continuation := sub.collect(t, len(live))
	sameRecords(t, "records put while subscribed", got, live, before, afterLive)
	if continuation != live[len(live)-1].sequence {
		t.Logf("ContinuationSequenceNumber %s after the last record %s", continuation, live[len(live)-1].sequence)
	}

	// A second subscription for the same consumer and shard right away is
	// refused before any stream starts. Only checked while the guard time
	// has surely not passed.
	_, err := client.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN: aws.String(consumerARN), ShardId: aws.String(shard),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest},
	})
	if time.Since(sub.started) < resubscribeGuard-time.Second {
		requireAPIError[*types.ResourceInUseException](t, err, "a second SubscribeToShard within 5 s")
	} else if err == nil {
		t.Log("the machine was too slow to check the 5 s guard")
	}

	// Leave, let records pile up, come back from the continuation number:
	// exactly the records put while away arrive, then nothing more.
	sub.stream.Close()
	before = time.Now()
	away := putBatch(ctx, t, client, stream, rng, 30, "away")
	afterAway := time.Now()
	resumed := resubscribe(ctx, t, client, consumerARN, shard, types.StartingPosition{
		Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: aws.String(continuation),
	})
	got, _ = resumed.collect(t, len(away))
	sameRecords(t, "records put between subscriptions", got, away, before, afterAway)
	if ev := resumed.nextEvent(t, eventWait); len(ev.Records) != 0 {
		t.Fatalf("after catching up, an event with %d records: %+v", len(ev.Records), ev.Records[0])
	}
}

// resubscribe retries while the server still counts the previous subscription
// as recent (ResourceInUseException), as a real consumer does.
func resubscribe(ctx context.Context, t *testing.T, client *kinesis.Client, consumerARN, shard string, position types.StartingPosition) *subscription {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		started := time.Now()
		out, err := client.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
			ConsumerARN: aws.String(consumerARN), ShardId: aws.String(shard), StartingPosition: &position,
		})
		if err == nil {
			sub := &subscription{stream: out.GetStream(), started: started}
			t.Cleanup(func() { sub.stream.Close() })
			return sub
		}
		var inUse *types.ResourceInUseException
		if !errors.As(err, &inUse) || time.Now().After(deadline) {
			t.Fatalf("SubscribeToShard from %s %s: %v", position.Type, aws.ToString(position.SequenceNumber), err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Two consumers read the same shard at once; LATEST starts with an event that
// has no records, then pushes what is put.
func TestSubscribeFromLatestWithTwoConsumers(t *testing.T) {
	ctx := testContext(t, 3*time.Minute)
	client := newClient(noRetries)
	const stream = "go-subscribe-latest"
	summary := createStream(ctx, t, client, stream, 2)
	streamARN := aws.ToString(summary.StreamARN)
	shards := shardIDs(ctx, t, client, stream)
	first := registerConsumer(ctx, t, client, streamARN, "go-latest-1")
	second := registerConsumer(ctx, t, client, streamARN, "go-latest-2")
	rng := rand.New(rand.NewSource(7))

	// Something already in the stream, which LATEST must skip.
	putBatch(ctx, t, client, stream, rng, 20, "old")

	type reader struct {
		name, shard string
		sub         *subscription
	}
	var readers []reader
	for _, c := range []types.ConsumerDescription{first, second} {
		for _, shard := range shards {
			sub := subscribe(ctx, t, client, aws.ToString(c.ConsumerARN), shard,
				types.StartingPosition{Type: types.ShardIteratorTypeLatest})
			if ev := sub.nextEvent(t, eventWait); len(ev.Records) != 0 {
				t.Fatalf("LATEST: first event carries %d old records", len(ev.Records))
			}
			readers = append(readers, reader{aws.ToString(c.ConsumerName) + " on " + shard, shard, sub})
		}
	}

	before := time.Now()
	sent := putBatch(ctx, t, client, stream, rng, 60, "new")
	after := time.Now()
	perShard := map[string][]putRecord{}
	for _, rec := range sent {
		perShard[rec.shardID] = append(perShard[rec.shardID], rec)
	}
	for _, r := range readers {
		want := perShard[r.shard]
		// Within a shard, records arrive in sequence-number order.
		sort.Slice(want, func(i, j int) bool { return sequenceLess(want[i].sequence, want[j].sequence) })
		got, _ := r.sub.collect(t, len(want))
		sameRecords(t, r.name, got, want, before, after)
	}
}

func TestSubscribeToShardErrors(t *testing.T) {
	ctx := testContext(t, 2*time.Minute)
	client := newClient(noRetries)
	const stream = "go-subscribe-errors"
	summary := createStream(ctx, t, client, stream, 1)
	streamARN := aws.ToString(summary.StreamARN)
	consumer := registerConsumer(ctx, t, client, streamARN, "go-error-consumer")
	trim := types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}

	call := func(consumerARN, shard string, position types.StartingPosition) error {
		out, err := client.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
			ConsumerARN: aws.String(consumerARN), ShardId: aws.String(shard), StartingPosition: &position,
		})
		if err == nil {
			out.GetStream().Close()
		}
		return err
	}

	unknownARN := streamARN + "/consumer/go-nobody:1700000000"
	err := call(unknownARN, "shardId-000000000000", trim)
	requireAPIError[*types.ResourceNotFoundException](t, err, "SubscribeToShard with an unknown consumer ARN")

	err = call(aws.ToString(consumer.ConsumerARN), "shardId-000000000009", trim)
	requireAPIError[*types.ResourceNotFoundException](t, err, "SubscribeToShard on a missing shard")

	err = call(aws.ToString(consumer.ConsumerARN), "shardId-000000000000",
		types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber})
	requireAPIError[*types.InvalidArgumentException](t, err, "AFTER_SEQUENCE_NUMBER without a sequence number")
}

// A subscription started more than 5 s after the previous one for the same
// consumer and shard takes over: the old stream ends with a
// ResourceInUseException event, the new one gets the records.
func TestSubscribeToShardTakeover(t *testing.T) {
	ctx := testContext(t, 3*time.Minute)
	client := newClient(noRetries)
	const stream = "go-subscribe-takeover"
	summary := createStream(ctx, t, client, stream, 1)
	shard := shardIDs(ctx, t, client, stream)[0]
	consumer := registerConsumer(ctx, t, client, aws.ToString(summary.StreamARN), "go-takeover")
	consumerARN := aws.ToString(consumer.ConsumerARN)
	rng := rand.New(rand.NewSource(11))

	old := subscribe(ctx, t, client, consumerARN, shard, types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	// Keep reading the old stream while the new one is being started, as a
	// consumer would; whatever it returns at the end is what the test checks.
	ended := make(chan error, 1)
	go func() {
		for range old.stream.Events() {
		}
		ended <- old.stream.Err()
	}()
	fresh := resubscribe(ctx, t, client, consumerARN, shard, types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	select {
	case err := <-ended:
		requireAPIError[*types.ResourceInUseException](t, err, "the subscription taken over")
	case <-time.After(eventWait):
		t.Fatal("the old subscription did not end after another took over")
	}

	before := time.Now()
	sent := putBatch(ctx, t, client, stream, rng, 20, "takeover")
	got, _ := fresh.collect(t, len(sent))
	sameRecords(t, "records after the takeover", got, sent, before, time.Now())
}
