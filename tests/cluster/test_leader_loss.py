"""Losing the JetStream node that leads a shard's stream, under load, loses
no acknowledged record: producers put through both front ends, the leader
is killed with SIGKILL, puts go on, the node comes back, and every record
any PutRecords acknowledged is read through both front ends at exactly its
sequence number, once.

The pause the kill caused (the longest time without an acknowledgement) is
printed for the record, never checked: it depends on the machine.

  test_leader_loss.py [--nats debian|current]
"""
import sys
import time

import cluster_helpers
from cluster_helpers import ClusterTestCase, Ledger, assert_all_acked_readable, run_producers, stop_producers
from kinesis_helpers import wait_until

SHARDS = 4
BEFORE_KILL_S = 4.0
# Puts go on until some put sent after the kill was acknowledged, or this long.
RESUME_LIMIT_S = 60.0
AFTER_RESUME_S = 2.0
AFTER_RESTART_S = 3.0


class LeaderLoss(ClusterTestCase):

    def test_kill_shard_leader_under_load(self):
        a, b = self.clients
        stream = self.create_shared(shards=SHARDS)
        ledger = Ledger()
        threads, stop = run_producers([("a1", a), ("a2", a), ("b1", b), ("b2", b)], stream, ledger)
        try:
            wait_until(lambda: len(ledger.acks) >= 200, "first acknowledgements", timeout=60)
            time.sleep(BEFORE_KILL_S)
            target = self.cluster.busiest_shard_stream(self.prefix)
            victim = self.cluster.stream_leader(target)
            killed_at = time.monotonic()
            self.cluster.kill9(victim)
            sys.stderr.write("killed %s, leader of JetStream stream %s, after %d acknowledged records\n"
                             % (victim.name, target, len(ledger.acks)))
            resumed = None
            while time.monotonic() - killed_at < RESUME_LIMIT_S:
                if ledger.acked_between(killed_at):
                    resumed = time.monotonic()
                    break
                time.sleep(0.05)
            time.sleep(AFTER_RESUME_S)
            new_leader = self.cluster.streams(target).get(target, (None,))[0]
            restart_at = time.monotonic()
            acked_while_down = len(ledger.acked_between(killed_at, restart_at))
            self.cluster.restart(victim)
            time.sleep(AFTER_RESTART_S)
        finally:
            stop_producers(threads, stop)
        end = time.monotonic()

        gap, first_new = ledger.longest_gap(killed_at - 1.0, restart_at)
        sys.stderr.write(
            "nats-server %s: pause after the kill: longest gap between acknowledgements %.2f s, first "
            "acknowledgement of a put sent after the kill %s; new leader of %s: %s; %d records acknowledged "
            "while %s was down, %d after its restart\n"
            % (self.cluster.version, gap, "%.2f s later" % first_new if first_new is not None else "never",
               target, new_leader, acked_while_down, victim.name, len(ledger.acked_between(restart_at, end))))
        sys.stderr.write(ledger.summary() + "\n")

        self.assertIsNotNone(resumed, "no put sent after the kill was acknowledged within %.0f s (%s)"
                             % (RESUME_LIMIT_S, ledger.summary()))
        self.assertGreater(acked_while_down, 0, "no acknowledged put while %s was down" % victim.name)
        acks = list(ledger.acks)
        self.assertEqual(len(acks), len({(x.shard, x.seq) for x in acks}),
                         "two acknowledged records share a shard and sequence number")
        held = {name: v[1] for name, v in self.cluster.streams(self.prefix).items()}
        sys.stderr.write("messages per JetStream stream: %r\n" % held)
        assert_all_acked_readable(self, [("A", a), ("B", b)], stream, acks, t0=killed_at)
        sys.stderr.write("all %d acknowledged records read through A and B at their sequence numbers\n"
                         % len(acks))


if __name__ == "__main__":
    cluster_helpers.main()
