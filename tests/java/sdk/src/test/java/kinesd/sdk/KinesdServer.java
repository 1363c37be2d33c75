package kinesd.sdk;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One kinesd process on a free loopback port with a temporary data directory.
 * The binary comes from KINESD_BIN; its output goes to a log file that a failing
 * test prints.
 */
final class KinesdServer implements AutoCloseable {
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

    private final Path workDir;
    private final Path logFile;
    private final Process process;
    private final int port;
    private final Path dataDir;
    private final Thread killOnExit;

    private KinesdServer(Path workDir, Path logFile, Process process, int port) {
        this.workDir = workDir;
        this.dataDir = workDir.resolve("data");
        this.logFile = logFile;
        this.process = process;
        this.port = port;
        // A test JVM that exits without close() (an interrupted run) must not
        // leave the server holding its port and directory.
        this.killOnExit = new Thread(process::destroyForcibly);
        Runtime.getRuntime().addShutdownHook(killOnExit);
    }

    /** Starts kinesd with `extraArgs` appended to its command line and waits until it answers. */
    static KinesdServer start(String... extraArgs) throws IOException, InterruptedException {
        String binary = System.getenv("KINESD_BIN");
        if (binary == null || binary.isEmpty()) {
            throw new IllegalStateException("KINESD_BIN is not set: point it at the kinesd binary");
        }
        if (!Files.isExecutable(Path.of(binary))) {
            throw new IllegalStateException("KINESD_BIN=" + binary + " is not an executable file");
        }
        Path workDir = Files.createTempDirectory("kinesd-java-");
        Path dataDir = Files.createDirectory(workDir.resolve("data"));
        Path logFile = workDir.resolve("kinesd.log");
        // The port may be taken between choosing and binding it: try a few.
        IOException lastFailure = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int port = freePort();
            List<String> command = new ArrayList<>(List.of(binary, "--host", "127.0.0.1",
                    "--port", Integer.toString(port), "--data-dir", dataDir.toString(), "--log-level", "warn"));
            command.addAll(Tls.serverArgs());
            command.addAll(List.of(extraArgs));
            Files.writeString(logFile, "=== " + String.join(" ", command) + "\n", StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            Process process = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            KinesdServer server = new KinesdServer(workDir, logFile, process, port);
            if (server.waitReady()) {
                Tls.adopt(dataDir);
                return server;
            }
            if (process.isAlive()) {
                String log = server.log();
                server.close();
                throw new IllegalStateException("kinesd did not answer on port " + port + "\n" + log);
            }
            lastFailure = new IOException("kinesd exited during start-up with status " + process.exitValue()
                    + "\n" + server.log());
            Runtime.getRuntime().removeShutdownHook(server.killOnExit);
        }
        throw lastFailure;
    }

    /** Whether the binary's --help mentions `flag` (options that newer servers have). */
    static boolean supports(String flag) throws IOException, InterruptedException {
        Process help = new ProcessBuilder(System.getenv("KINESD_BIN"), "--help").redirectErrorStream(true).start();
        String text = new String(help.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        help.waitFor();
        return text.contains(flag);
    }

    URI endpoint() {
        return URI.create(Tls.scheme() + "://127.0.0.1:" + port);
    }

    String log() {
        try {
            return "--- kinesd log (" + logFile + ") ---\n" + Files.readString(logFile, StandardCharsets.UTF_8)
                    + "--- end of kinesd log ---";
        } catch (IOException e) {
            return "(no kinesd log: " + e + ")";
        }
    }

    /** SIGTERM, then checks that the server exited on its own with status 0. */
    @Override
    public void close() throws IOException, InterruptedException {
        try {
            if (process.isAlive()) {
                process.destroy();
                if (!process.waitFor(30, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor();
                    throw new IllegalStateException("kinesd did not exit within 30 s of SIGTERM\n" + log());
                }
            }
            if (process.exitValue() != 0) {
                throw new IllegalStateException("kinesd exited with status " + process.exitValue() + "\n" + log());
            }
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(killOnExit);
            } catch (IllegalStateException shuttingDown) {
                // The JVM is already exiting: the hook runs anyway.
            }
            try (Stream<Path> files = Files.walk(workDir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /** Any HTTP answer counts: the server accepts and parses requests. */
    private boolean waitReady() throws InterruptedException, IOException {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        if (Tls.enabled()) {
            // The certificate is made at start-up: trust it once it is there.
            Path cert = Tls.certificateFor(dataDir);
            long certDeadline = System.nanoTime() + STARTUP_TIMEOUT.toNanos();
            while (!Files.exists(cert) && process.isAlive() && System.nanoTime() < certDeadline) {
                Thread.sleep(50);
            }
            if (!process.isAlive()) {
                return false;
            }
            Thread.sleep(100);  // written under a temporary name and renamed: whole once it exists
            try {
                http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                        .connectTimeout(Duration.ofSeconds(5)).sslContext(Tls.sslContext(cert)).build();
            } catch (java.security.GeneralSecurityException e) {
                throw new IOException("cannot trust " + cert, e);
            }
        }
        HttpRequest probe = HttpRequest.newBuilder(URI.create(Tls.scheme() + "://127.0.0.1:" + port + "/"))
                .header("Content-Type", "application/x-amz-json-1.1")
                .header("X-Amz-Target", "Kinesis_20131202.ListStreams")
                .timeout(Duration.ofSeconds(5))
                .POST(HttpRequest.BodyPublishers.ofString("{}"))
                .build();
        long deadline = System.nanoTime() + STARTUP_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                return false;
            }
            try {
                http.send(probe, HttpResponse.BodyHandlers.discarding());
                return true;
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        return false;
    }
}
