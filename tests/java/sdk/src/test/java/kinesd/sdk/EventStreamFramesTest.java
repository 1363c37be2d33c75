package kinesd.sdk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

/**
 * The frame parser the SubscribeToShard tests use to look at the wire, checked
 * on frames built here. Needs no server (the dependency install runs it to make
 * Surefire fetch its JUnit provider).
 */
class EventStreamFramesTest {
    @Test
    void parsesFramesSplitAnywhere() {
        byte[] first = frame("initial-response", "{}".getBytes(StandardCharsets.UTF_8));
        byte[] second = frame("SubscribeToShardEvent", new byte[] {(byte) 0xa1, 0x61, 'a', 0x01});
        ByteArrayOutputStream both = new ByteArrayOutputStream();
        both.writeBytes(first);
        both.writeBytes(second);
        byte[] bytes = both.toByteArray();
        for (int split = 0; split <= bytes.length; split++) {
            EventStreamFrames frames = new EventStreamFrames();
            frames.feed(ByteBuffer.wrap(bytes, 0, split));
            frames.feed(ByteBuffer.wrap(bytes, split, bytes.length - split));
            assertEquals(2, frames.frames().size(), "split at " + split);
            assertEquals("initial-response", frames.frames().get(0).header(":event-type"));
            assertEquals("event", frames.frames().get(1).header(":message-type"));
            assertArrayEquals(new byte[] {(byte) 0xa1, 0x61, 'a', 0x01}, frames.frames().get(1).payload());
            assertEquals(0, frames.leftoverBytes());
            assertTrue(frames.errors().isEmpty());
        }
    }

    @Test
    void reportsACorruptMessage() {
        byte[] bytes = frame("SubscribeToShardEvent", "{\"Records\":[]}".getBytes(StandardCharsets.UTF_8));
        bytes[bytes.length - 6] ^= 1;
        EventStreamFrames frames = new EventStreamFrames();
        frames.feed(ByteBuffer.wrap(bytes));
        assertTrue(frames.frames().isEmpty());
        assertFalse(frames.errors().isEmpty());
    }

    private static byte[] frame(String eventType, byte[] payload) {
        ByteArrayOutputStream headers = new ByteArrayOutputStream();
        stringHeader(headers, ":message-type", "event");
        stringHeader(headers, ":event-type", eventType);
        stringHeader(headers, ":content-type", "application/json");
        int total = 16 + headers.size() + payload.length;
        ByteBuffer out = ByteBuffer.allocate(total);
        out.putInt(total).putInt(headers.size());
        out.putInt(crc(out.array(), 8));
        out.put(headers.toByteArray()).put(payload);
        out.putInt(crc(out.array(), total - 4));
        return out.array();
    }

    private static void stringHeader(ByteArrayOutputStream out, String name, String value) {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        byte[] valueBytes = value.getBytes(StandardCharsets.UTF_8);
        out.write(nameBytes.length);
        out.writeBytes(nameBytes);
        out.write(7);
        out.write(valueBytes.length >> 8);
        out.write(valueBytes.length & 0xff);
        out.writeBytes(valueBytes);
    }

    private static int crc(byte[] data, int length) {
        CRC32 crc = new CRC32();
        crc.update(data, 0, length);
        return (int) crc.getValue();
    }
}
