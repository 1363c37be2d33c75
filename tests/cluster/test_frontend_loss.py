"""Losing a kinesd front end loses nothing it acknowledged: producers put
through A and B, A is killed with SIGKILL, and every record either of them
acknowledged is read through B, which keeps taking puts.

  test_frontend_loss.py [--nats debian|current]
"""
import sys
import time

import cluster_helpers
from cluster_helpers import ClusterTestCase, Ledger, assert_all_acked_readable, run_producers, stop_producers
from kinesis_helpers import wait_until

SHARDS = 3


class FrontendLoss(ClusterTestCase):

    def test_kill_a_while_putting(self):
        a, b = self.clients
        server_a = self.servers[0]
        stream = self.create_shared(shards=SHARDS)
        ledger = Ledger()
        threads, stop = run_producers([("a1", a), ("a2", a), ("b1", b), ("b2", b)], stream, ledger)
        try:
            wait_until(lambda: len({x.via for x in ledger.acks}) == 4 and len(ledger.acks) >= 200,
                       "acknowledgements through both front ends", timeout=60)
            time.sleep(2.0)
            server_a.kill9()
            killed_at = time.monotonic()
            wait_until(lambda: len([x for x in ledger.acked_between(killed_at) if x.via.startswith("b")]) >= 300,
                       "puts through B acknowledged after A was killed", timeout=60)
        finally:
            stop_producers(threads, stop)

        acks = list(ledger.acks)
        through_a = [x for x in acks if x.via.startswith("a")]
        after = [x for x in ledger.acked_between(killed_at) if x.via.startswith("b")]
        sys.stderr.write("%s; %d acknowledged by A before its kill, %d by B after it\n"
                         % (ledger.summary(), len(through_a), len(after)))
        self.assertGreater(len(through_a), 0)
        self.assertEqual(len(acks), len({(x.shard, x.seq) for x in acks}),
                         "two acknowledged records share a shard and sequence number")
        assert_all_acked_readable(self, [("B after A was killed", b)], stream, acks, t0=killed_at)
        # B still serves the control plane too.
        self.assertIn(stream, b.list_streams(Limit=1000)["StreamNames"])
        answer = b.put_record(StreamName=stream, Data=b"after", PartitionKey="k")
        self.assertIn("SequenceNumber", answer)


if __name__ == "__main__":
    cluster_helpers.main()
