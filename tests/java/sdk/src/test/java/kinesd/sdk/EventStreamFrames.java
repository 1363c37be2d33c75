package kinesd.sdk;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Parses the binary event-stream framing of a response body as it arrives:
 * total length, headers length, prelude CRC, headers, payload, message CRC. Kept
 * apart from the SDK's own decoder so that a test sees the frames' headers (the
 * SDK does not show them) and checks both CRCs independently.
 */
final class EventStreamFrames {
    /** One message: its headers in wire order and its payload. */
    record Frame(Map<String, Object> headers, byte[] payload) {
        String header(String name) {
            Object value = headers.get(name);
            return value == null ? null : value.toString();
        }

        @Override
        public String toString() {
            return headers + " payload " + payload.length + " bytes" + (payload.length > 0
                    ? String.format(" starting 0x%02x", payload[0] & 0xff) : "");
        }
    }

    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private final List<Frame> frames = new ArrayList<>();
    private final List<String> errors = new ArrayList<>();

    synchronized void feed(ByteBuffer buffer) {
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);
        pending.writeBytes(bytes);
        drain();
    }

    synchronized List<Frame> frames() {
        return List.copyOf(frames);
    }

    /** Framing faults: bad CRCs, impossible lengths. Empty when all is well. */
    synchronized List<String> errors() {
        return List.copyOf(errors);
    }

    synchronized boolean isEmpty() {
        return frames.isEmpty() && errors.isEmpty();
    }

    /** Bytes received after the last complete frame (0 once the stream ended cleanly). */
    synchronized int leftoverBytes() {
        return pending.size();
    }

    @Override
    public synchronized String toString() {
        StringBuilder text = new StringBuilder().append(frames.size()).append(" [");
        for (int i = 0; i < frames.size(); i++) {
            if (i == 3 && frames.size() > 6) {
                text.append(" ... ");
                i = frames.size() - 3;
            }
            text.append(i == 0 ? "" : ", ").append(frames.get(i));
        }
        text.append("]");
        if (!errors.isEmpty()) {
            text.append(" errors ").append(errors);
        }
        return text.toString();
    }

    private void drain() {
        byte[] data = pending.toByteArray();
        int offset = 0;
        while (errors.isEmpty() && data.length - offset >= 12) {
            ByteBuffer prelude = ByteBuffer.wrap(data, offset, 12);
            int total = prelude.getInt();
            int headersLength = prelude.getInt();
            int preludeCrc = prelude.getInt();
            if (crc(data, offset, 8) != preludeCrc) {
                errors.add("prelude CRC mismatch at frame " + frames.size());
                break;
            }
            if (total < 16 || headersLength < 0 || headersLength > total - 16) {
                errors.add("impossible lengths total=" + total + " headers=" + headersLength);
                break;
            }
            if (data.length - offset < total) {
                break;
            }
            int messageCrc = ByteBuffer.wrap(data, offset + total - 4, 4).getInt();
            if (crc(data, offset, total - 4) != messageCrc) {
                errors.add("message CRC mismatch at frame " + frames.size());
                break;
            }
            Map<String, Object> headers = parseHeaders(ByteBuffer.wrap(data, offset + 12, headersLength));
            int payloadStart = offset + 12 + headersLength;
            byte[] payload = new byte[total - 16 - headersLength];
            System.arraycopy(data, payloadStart, payload, 0, payload.length);
            frames.add(new Frame(headers, payload));
            offset += total;
        }
        pending.reset();
        pending.write(data, offset, data.length - offset);
    }

    private Map<String, Object> parseHeaders(ByteBuffer in) {
        Map<String, Object> headers = new LinkedHashMap<>();
        while (in.hasRemaining()) {
            byte[] name = new byte[in.get() & 0xff];
            in.get(name);
            int type = in.get() & 0xff;
            Object value = switch (type) {
                case 0 -> Boolean.TRUE;
                case 1 -> Boolean.FALSE;
                case 2 -> in.get();
                case 3 -> in.getShort();
                case 4 -> in.getInt();
                case 5, 8 -> in.getLong();
                case 6 -> {
                    byte[] bytes = new byte[in.getShort() & 0xffff];
                    in.get(bytes);
                    yield "bytes[" + bytes.length + "]";
                }
                case 7 -> {
                    byte[] bytes = new byte[in.getShort() & 0xffff];
                    in.get(bytes);
                    yield new String(bytes, StandardCharsets.UTF_8);
                }
                case 9 -> {
                    in.position(in.position() + 16);
                    yield "uuid";
                }
                default -> {
                    errors.add("unknown header value type " + type);
                    in.position(in.limit());
                    yield null;
                }
            };
            headers.put(new String(name, StandardCharsets.UTF_8) + (type == 7 ? "" : "(type " + type + ")"), value);
        }
        return headers;
    }

    private static int crc(byte[] data, int offset, int length) {
        CRC32 crc = new CRC32();
        crc.update(data, offset, length);
        return (int) crc.getValue();
    }
}
