"""Enhanced fan-out consumers as KCL registers and removes them: CREATING then
ACTIVE, DELETING after deregistration, the per-stream limits (20, or 50 on an
On-demand Advantage stream; 5 CREATING at once), ConsumerCount in
DescribeStreamSummary, and DeleteStream with consumers registered."""
import time
import unittest

from kinesis_helpers import (KinesdTestCase, create_stream, stream_arn, unique_name, wait_active, wait_gone,
                             wait_until)

DELAY_MS = 1500


class ConsumerTestCase(KinesdTestCase):

    def register(self, name, consumer):
        return self.client.register_stream_consumer(StreamARN=stream_arn(name), ConsumerName=consumer)["Consumer"]

    def status(self, arn):
        return self.client.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]["ConsumerStatus"]

    def listed(self, name):
        return {c["ConsumerName"]: c["ConsumerStatus"]
                for c in self.client.list_stream_consumers(StreamARN=stream_arn(name))["Consumers"]}

    def consumer_count(self, name):
        return self.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["ConsumerCount"]


class ConsumerLifecycleTest(ConsumerTestCase):
    """Consumers take DELAY_MS to become ACTIVE and DELAY_MS to go away."""

    server_args = ("--create-stream-ms", str(DELAY_MS), "--delete-stream-ms", str(DELAY_MS))

    def test_creating_active_deleting_gone(self):
        name = create_stream(self.client, shards=1)
        consumer = self.register(name, "kcl-app")
        self.assertEqual(consumer["ConsumerStatus"], "CREATING")
        self.assertEqual(self.status(consumer["ConsumerARN"]), "CREATING")
        self.assertEqual(self.listed(name), {"kcl-app": "CREATING"})
        self.assertEqual(self.consumer_count(name), 1)
        wait_until(lambda: self.status(consumer["ConsumerARN"]) == "ACTIVE", "the consumer to become ACTIVE")
        self.assertEqual(self.listed(name), {"kcl-app": "ACTIVE"})

        self.client.deregister_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
        self.assertEqual(self.status(consumer["ConsumerARN"]), "DELETING")
        self.assertEqual(self.listed(name), {"kcl-app": "DELETING"})
        self.assertEqual(self.consumer_count(name), 1)
        # Its name stays taken until it is gone.
        self.assertClientError(self.client.register_stream_consumer, "ResourceInUseException", None,
                               StreamARN=stream_arn(name), ConsumerName="kcl-app")

        def gone():
            try:
                self.status(consumer["ConsumerARN"])
                return False
            except self.client.exceptions.ResourceNotFoundException:
                return True
        wait_until(gone, "the consumer to be gone")
        self.assertEqual(self.listed(name), {})
        self.assertEqual(self.consumer_count(name), 0)
        again = self.register(name, "kcl-app")
        self.assertEqual(again["ConsumerStatus"], "CREATING")

    def test_five_creating_at_once(self):
        name = create_stream(self.client, shards=1)
        started = time.monotonic()
        for i in range(5):
            self.register(name, "c%d" % i)
        if time.monotonic() - started >= DELAY_MS / 1000:
            self.skipTest("registering took longer than the CREATING period")
        self.assertClientError(
            self.client.register_stream_consumer, "LimitExceededException",
            "Only 5 consumers of stream %s can be in the CREATING status at the same time." % name,
            StreamARN=stream_arn(name), ConsumerName="c5")
        wait_until(lambda: set(self.listed(name).values()) == {"ACTIVE"}, "the five to become ACTIVE")
        self.assertEqual(self.register(name, "c5")["ConsumerStatus"], "CREATING")
        self.assertEqual(self.consumer_count(name), 6)


class ConsumerLimitTest(ConsumerTestCase):

    def test_twenty_per_stream(self):
        name = create_stream(self.client, shards=1)
        for i in range(20):
            self.register(name, "c%02d" % i)
        self.assertClientError(self.client.register_stream_consumer, "LimitExceededException",
                               "Consumer limit of 20 reached for stream %s." % name,
                               StreamARN=stream_arn(name), ConsumerName="one-too-many")
        self.assertEqual(self.consumer_count(name), 20)
        # A deregistered consumer frees its place.
        self.client.deregister_stream_consumer(StreamARN=stream_arn(name), ConsumerName="c00")
        self.register(name, "one-more")
        self.assertEqual(self.consumer_count(name), 20)

    def test_fifty_on_an_on_demand_advantage_stream(self):
        self.client.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
        try:
            advantage = unique_name("adv")
            self.client.create_stream(StreamName=advantage, StreamModeDetails={"StreamMode": "ON_DEMAND"})
            wait_active(self.client, advantage)
            for i in range(50):
                self.register(advantage, "c%02d" % i)
            self.assertClientError(self.client.register_stream_consumer, "LimitExceededException",
                                   "Consumer limit of 50 reached for stream %s." % advantage,
                                   StreamARN=stream_arn(advantage), ConsumerName="c50")
            self.assertEqual(self.consumer_count(advantage), 50)
            # A provisioned stream of the same account keeps 20.
            provisioned = create_stream(self.client, shards=1)
            for i in range(20):
                self.register(provisioned, "c%02d" % i)
            self.assertClientError(self.client.register_stream_consumer, "LimitExceededException",
                                   "Consumer limit of 20 reached for stream %s." % provisioned,
                                   StreamARN=stream_arn(provisioned), ConsumerName="c20")
        finally:
            self.client.update_account_settings(MinimumThroughputBillingCommitment={"Status": "DISABLED"})
        # Without the commitment an on-demand stream has 20 too.
        standard = unique_name("std")
        self.client.create_stream(StreamName=standard, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        wait_active(self.client, standard)
        for i in range(20):
            self.register(standard, "c%02d" % i)
        self.assertClientError(self.client.register_stream_consumer, "LimitExceededException",
                               "Consumer limit of 20 reached for stream %s." % standard,
                               StreamARN=stream_arn(standard), ConsumerName="c20")


class DeleteStreamWithConsumersTest(ConsumerTestCase):

    def in_use_message(self, name):
        return ("DeleteStream can\u2019t delete %s because there are consumers associated with this data stream. "
                "To delete %s anyway, set the EnforceConsumerDeletion parameter to true to force the deletion "
                "of all the consumers that are associated with it." % (stream_arn(name), name))

    def test_refused_unless_enforced(self):
        name = create_stream(self.client, shards=1)
        self.register(name, "a")
        self.register(name, "b")
        self.assertClientError(self.client.delete_stream, "ResourceInUseException", self.in_use_message(name),
                               StreamName=name)
        self.assertClientError(self.client.delete_stream, "ResourceInUseException", self.in_use_message(name),
                               StreamARN=stream_arn(name), EnforceConsumerDeletion=False)
        summary = self.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        self.assertEqual((summary["StreamStatus"], summary["ConsumerCount"]), ("ACTIVE", 2))

        self.client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        wait_gone(self.client, name)
        self.assertClientError(self.client.list_stream_consumers, "ResourceNotFoundException", None,
                               StreamARN=stream_arn(name))
        # A stream created again under the name has none of them.
        create_stream(self.client, name=name, shards=1)
        self.assertEqual(self.listed(name), {})
        self.assertEqual(self.consumer_count(name), 0)
        self.client.delete_stream(StreamName=name)
        wait_gone(self.client, name)

    def test_deregistered_consumers_do_not_hold_the_stream(self):
        name = create_stream(self.client, shards=1)
        consumer = self.register(name, "a")
        self.client.deregister_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
        self.client.delete_stream(StreamName=name)
        wait_gone(self.client, name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
