package kinesd.sdk;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

/**
 * The https mode (-Dkinesd.https=true): every server runs with --tls-only and
 * every client trusts its certificate, nothing else. The first server makes
 * its own self-signed certificate; the others are given a copy of it with
 * --tls-cert and --tls-key, so one trust store serves every client. The
 * Netty client keeps Protocol.HTTP2 without ALPN: HTTP/2 with prior
 * knowledge inside TLS.
 */
final class Tls {
    private static Path sharedCert;
    private static Path sharedKey;

    private Tls() {
    }

    static boolean enabled() {
        return Boolean.getBoolean("kinesd.https");
    }

    static String scheme() {
        return enabled() ? "https" : "http";
    }

    /** What a new server gets on its command line in this mode. */
    static synchronized List<String> serverArgs() {
        List<String> args = new ArrayList<>();
        if (!enabled()) {
            return args;
        }
        args.addAll(List.of("--tls-only", "true"));
        if (sharedCert != null) {
            args.addAll(List.of("--tls-cert", sharedCert.toString(), "--tls-key", sharedKey.toString()));
        }
        return args;
    }

    /** The certificate a server started now will present, once it exists. */
    static synchronized Path certificateFor(Path dataDir) {
        return sharedCert != null ? sharedCert : dataDir.resolve("tls").resolve("cert.pem");
    }

    /** Keeps a copy of the first server's generated pair for the servers after it. */
    static synchronized void adopt(Path dataDir) throws IOException {
        if (!enabled() || sharedCert != null) {
            return;
        }
        Path dir = Files.createTempDirectory("kinesd-java-tls-");
        dir.toFile().deleteOnExit();
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        Files.copy(dataDir.resolve("tls").resolve("cert.pem"), cert, StandardCopyOption.REPLACE_EXISTING);
        Files.copy(dataDir.resolve("tls").resolve("key.pem"), key, StandardCopyOption.REPLACE_EXISTING);
        cert.toFile().deleteOnExit();
        key.toFile().deleteOnExit();
        sharedCert = cert;
        sharedKey = key;
    }

    /** Trust managers that accept the shared certificate and nothing else. */
    static synchronized TrustManager[] trustManagers() {
        return trustManagers(sharedCert);
    }

    static TrustManager[] trustManagers(Path cert) {
        try (InputStream in = Files.newInputStream(cert)) {
            Certificate certificate = CertificateFactory.getInstance("X.509").generateCertificate(in);
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            store.setCertificateEntry("kinesd", certificate);
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init(store);
            return factory.getTrustManagers();
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot trust " + cert + ": " + e, e);
        }
    }

    static SSLContext sslContext(Path cert) throws GeneralSecurityException {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trustManagers(cert), null);
        return context;
    }
}
