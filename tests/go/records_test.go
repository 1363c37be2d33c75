package kinesdtest

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// putRecord is one record as the producer sent it and as kinesd acknowledged it.
type putRecord struct {
	key      string
	data     []byte
	shardID  string
	sequence string
}

// recordData makes data of varied length that uses every byte value, so any
// encoding slip (base64, UTF-8, truncation) shows. Index 0 is empty: AWS
// allows a zero-length blob.
func recordData(rng *rand.Rand, index int) []byte {
	if index == 0 {
		return []byte{}
	}
	data := make([]byte, 1+rng.Intn(2000))
	rng.Read(data)
	data[0] = byte(index)
	return data
}

func TestPutRecordsAndReadBack(t *testing.T) {
	ctx := testContext(t, 5*time.Minute)
	client := newClient()
	const stream = "go-records"
	createStream(ctx, t, client, stream, 3)
	rng := rand.New(rand.NewSource(20131202))

	var sent []putRecord
	before := time.Now()
	// Single puts: each answer names the shard and a sequence number that
	// grows within the shard.
	for i := 0; i < 30; i++ {
		rec := putRecord{key: fmt.Sprintf("key-%d", i%7), data: recordData(rng, i)}
		out, err := client.PutRecord(ctx, &kinesis.PutRecordInput{
			StreamName: aws.String(stream), PartitionKey: aws.String(rec.key), Data: rec.data,
		})
		if err != nil {
			t.Fatalf("PutRecord %d: %v", i, err)
		}
		rec.shardID, rec.sequence = aws.ToString(out.ShardId), aws.ToString(out.SequenceNumber)
		if rec.shardID == "" || rec.sequence == "" {
			t.Fatalf("PutRecord %d: answer without ShardId or SequenceNumber: %+v", i, out)
		}
		sent = append(sent, rec)
	}

	// One PutRecords call at the API's maximum of 500 entries.
	entries := make([]types.PutRecordsRequestEntry, 500)
	batch := make([]putRecord, 500)
	for i := range entries {
		batch[i] = putRecord{key: fmt.Sprintf("key-%d", (i+30)%37), data: recordData(rng, i+30)}
		entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(batch[i].key), Data: batch[i].data}
	}
	out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != len(entries) {
		t.Fatalf("PutRecords: %d failed, %d results for %d entries",
			aws.ToInt32(out.FailedRecordCount), len(out.Records), len(entries))
	}
	for i, result := range out.Records {
		if result.ErrorCode != nil || result.ShardId == nil || result.SequenceNumber == nil {
			t.Fatalf("PutRecords entry %d: %+v", i, result)
		}
		batch[i].shardID, batch[i].sequence = *result.ShardId, *result.SequenceNumber
	}
	sent = append(sent, batch...)
	after := time.Now()

	received := readWholeStream(ctx, t, client, stream)
	checkReadBack(t, sent, received, before, after)
}

// receivedRecord is a record as GetRecords returned it, with its shard.
type receivedRecord struct {
	shardID string
	record  types.Record
}

// readWholeStream reads every shard from TRIM_HORIZON until GetRecords says
// the reader has caught up (no records, MillisBehindLatest 0).
func readWholeStream(ctx context.Context, t *testing.T, client *kinesis.Client, stream string) []receivedRecord {
	t.Helper()
	var all []receivedRecord
	for _, shard := range shardIDs(ctx, t, client, stream) {
		it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(stream), ShardId: aws.String(shard),
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatalf("GetShardIterator %s: %v", shard, err)
		}
		iterator := it.ShardIterator
		for calls := 0; ; calls++ {
			if calls > 1000 {
				t.Fatalf("shard %s: still not caught up after %d GetRecords calls", shard, calls)
			}
			page, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iterator, Limit: aws.Int32(97)})
			if err != nil {
				t.Fatalf("GetRecords %s: %v", shard, err)
			}
			if page.MillisBehindLatest == nil || *page.MillisBehindLatest < 0 {
				t.Fatalf("GetRecords %s: MillisBehindLatest %v", shard, page.MillisBehindLatest)
			}
			if len(page.Records) > 97 {
				t.Fatalf("GetRecords %s: %d records for Limit 97", shard, len(page.Records))
			}
			for _, r := range page.Records {
				all = append(all, receivedRecord{shardID: shard, record: r})
			}
			if page.NextShardIterator == nil {
				t.Fatalf("GetRecords %s: no NextShardIterator on an open shard", shard)
			}
			iterator = page.NextShardIterator
			if len(page.Records) == 0 && *page.MillisBehindLatest == 0 {
				break
			}
		}
	}
	return all
}

func sequenceLess(a, b string) bool {
	x, okA := new(big.Int).SetString(a, 10)
	y, okB := new(big.Int).SetString(b, 10)
	if !okA || !okB {
		panic(fmt.Sprintf("sequence numbers %q, %q are not decimal", a, b))
	}
	return x.Cmp(y) < 0
}

// checkReadBack: every record sent comes back once, in the shard and with the
// sequence number its put reported, byte for byte; sequence numbers rise
// within a shard; each partition key's records come back in the order they
// were put (PutRecord calls in turn, then the batch in array order: kinesd
// keeps a batch's order, which AWS does not promise for PutRecords); every
// arrival time lies within the put phase.
func checkReadBack(t *testing.T, sent []putRecord, received []receivedRecord, before, after time.Time) {
	t.Helper()
	if len(received) != len(sent) {
		t.Fatalf("read back %d records, put %d", len(received), len(sent))
	}
	bySequence := make(map[string]putRecord, len(sent))
	for _, rec := range sent {
		if _, dup := bySequence[rec.sequence]; dup {
			t.Fatalf("sequence number %s acknowledged twice", rec.sequence)
		}
		bySequence[rec.sequence] = rec
	}
	lastInShard := map[string]string{}
	readOrder := map[string][]string{}
	// Arrival times are kept in milliseconds; allow that rounding and no more.
	earliest, latest := before.Add(-time.Millisecond), after.Add(time.Millisecond)
	for i, got := range received {
		seq := aws.ToString(got.record.SequenceNumber)
		want, ok := bySequence[seq]
		if !ok {
			t.Fatalf("record %d: sequence number %s was never acknowledged (or came twice)", i, seq)
		}
		delete(bySequence, seq)
		if got.shardID != want.shardID {
			t.Errorf("record %s: read from %s, put reported %s", seq, got.shardID, want.shardID)
		}
		if aws.ToString(got.record.PartitionKey) != want.key {
			t.Errorf("record %s: partition key %q, want %q", seq, aws.ToString(got.record.PartitionKey), want.key)
		}
		if !bytes.Equal(got.record.Data, want.data) {
			t.Errorf("record %s: data differs (%d bytes back, %d put)", seq, len(got.record.Data), len(want.data))
		}
		if prev, ok := lastInShard[got.shardID]; ok && !sequenceLess(prev, seq) {
			t.Errorf("shard %s: sequence %s read after %s", got.shardID, seq, prev)
		}
		lastInShard[got.shardID] = seq
		readOrder[want.key] = append(readOrder[want.key], seq)
		arrival := got.record.ApproximateArrivalTimestamp
		if arrival == nil || arrival.Before(earliest) || arrival.After(latest) {
			t.Errorf("record %s: ApproximateArrivalTimestamp %v outside the put phase [%v, %v]",
				seq, arrival, before, after)
		}
	}
	putOrder := map[string][]string{}
	for _, rec := range sent {
		putOrder[rec.key] = append(putOrder[rec.key], rec.sequence)
	}
	for key, order := range putOrder {
		if fmt.Sprint(order) != fmt.Sprint(readOrder[key]) {
			t.Errorf("partition key %s: read order %v, put order %v", key, readOrder[key], order)
		}
	}
}

func TestListShardsWithShardFilter(t *testing.T) {
	ctx := testContext(t, 2*time.Minute)
	client := newClient()
	const stream = "go-list-shards"
	createStream(ctx, t, client, stream, 4)

	all, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatalf("ListShards: %v", err)
	}
	ids := make([]string, len(all.Shards))
	for i, s := range all.Shards {
		ids[i] = aws.ToString(s.ShardId)
		if want := fmt.Sprintf("shardId-%012d", i); ids[i] != want {
			t.Fatalf("shard %d is %s, want %s", i, ids[i], want)
		}
	}
	checkHashKeyRanges(t, all.Shards)

	cases := []struct {
		filter types.ShardFilter
		want   []string
	}{
		{types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String(ids[1])}, ids[2:]},
		{types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}, ids},
		{types.ShardFilter{Type: types.ShardFilterTypeFromTrimHorizon}, ids},
		{types.ShardFilter{Type: types.ShardFilterTypeAtLatest}, ids},
		{types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(time.Now())}, ids},
	}
	for _, c := range cases {
		filter := c.filter
		out, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream), ShardFilter: &filter})
		if err != nil {
			t.Errorf("ListShards with %s: %v", c.filter.Type, err)
			continue
		}
		got := make([]string, len(out.Shards))
		for i, s := range out.Shards {
			got[i] = aws.ToString(s.ShardId)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("ListShards with %s: %v, want %v", c.filter.Type, got, c.want)
		}
	}

	// Paging: the first page names the stream, later pages only the token.
	var paged []string
	input := &kinesis.ListShardsInput{StreamName: aws.String(stream), MaxResults: aws.Int32(3)}
	for pages := 0; ; pages++ {
		if pages > 4 {
			t.Fatalf("ListShards paging did not end: %v so far", paged)
		}
		page, err := client.ListShards(ctx, input)
		if err != nil {
			t.Fatalf("ListShards page %d: %v", pages, err)
		}
		for _, s := range page.Shards {
			paged = append(paged, aws.ToString(s.ShardId))
		}
		if page.NextToken == nil {
			break
		}
		input = &kinesis.ListShardsInput{NextToken: page.NextToken, MaxResults: aws.Int32(3)}
	}
	if fmt.Sprint(paged) != fmt.Sprint(ids) {
		t.Errorf("ListShards in pages of 3: %v, want %v", paged, ids)
	}
}

// checkHashKeyRanges: the open shards of a new stream split 0..2^128-1 into
// adjacent ranges.
func checkHashKeyRanges(t *testing.T, shards []types.Shard) {
	t.Helper()
	ranges := make([][2]*big.Int, len(shards))
	for i, s := range shards {
		start, ok1 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		end, ok2 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		if !ok1 || !ok2 {
			t.Fatalf("shard %s: hash key range %+v", aws.ToString(s.ShardId), s.HashKeyRange)
		}
		ranges[i] = [2]*big.Int{start, end}
	}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i][0].Cmp(ranges[j][0]) < 0 })
	next := big.NewInt(0)
	for _, r := range ranges {
		if r[0].Cmp(next) != 0 {
			t.Fatalf("hash key ranges leave a gap or overlap at %s", next)
		}
		next = new(big.Int).Add(r[1], big.NewInt(1))
	}
	if max := new(big.Int).Lsh(big.NewInt(1), 128); next.Cmp(max) != 0 {
		t.Fatalf("hash key ranges end at %s, want 2^128", next)
	}
}
