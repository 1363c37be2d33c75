// Talks to a real S3-compatible server on loopback: moto_server, started
// here when it is installed (the tests skip otherwise). Two instances run:
// one accepting any credentials, where keys of every shape are stored and
// listed back, and one that verifies SigV4 against an IAM user it issued,
// so that a wrong signature fails the test instead of passing unnoticed.
#include "delivery/s3_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <openssl/evp.h>

namespace delivery = kinesd::delivery;

namespace {

std::string run_command(const std::string& command, int* status = nullptr) {
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return "";
    std::string out;
    char buffer[4096];
    std::size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    int rc = pclose(pipe);
    if (status != nullptr) *status = rc;
    return out;
}

std::optional<std::string> find_program(const std::string& name) {
    int status = 0;
    std::string path = run_command("command -v " + name + " 2>/dev/null", &status);
    while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
    if (status != 0 || path.empty()) return std::nullopt;
    return path;
}

// A port nobody listens on right now.
int unused_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
}

bool port_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
}

// One moto_server child in its own process group, so that stopping it also
// stops whatever its launcher script spawned.
struct moto_process {
    pid_t pid = -1;
    int port = 0;

    bool start(const std::string& program, const std::vector<std::string>& env,
               const std::vector<std::string>& extra_args = {}) {
        port = unused_port();
        std::vector<std::string> args = {program, "-H", "127.0.0.1", "-p", std::to_string(port)};
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        pid = fork();
        if (pid == 0) {
            setpgid(0, 0);
            for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
            freopen("/dev/null", "w", stdout);
            freopen("/dev/null", "w", stderr);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(program.c_str(), argv.data());
            _exit(127);
        }
        if (pid < 0) return false;
        setpgid(pid, pid);
        return true;
    }

    bool wait_ready(std::chrono::seconds limit) const {
        auto until = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < until) {
            if (port_open(port)) return true;
            int status = 0;
            if (waitpid(pid, &status, WNOHANG) == pid) return false;  // it died
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return false;
    }

    void stop() {
        if (pid <= 0) return;
        kill(-pid, SIGTERM);
        for (int i = 0; i < 50; ++i) {
            int status = 0;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                pid = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        kill(-pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        pid = -1;
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

std::string md5_hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(data.data(), data.size(), digest, &size, EVP_md5(), nullptr);
    return kinesd::sigv4::to_hex(digest, size);
}

std::string random_body(std::size_t size, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::string out(size, '\0');
    for (auto& c : out) c = static_cast<char>(rng() & 0xff);
    return out;
}

// Python with boto3, used as an independent client to read back what ours wrote.
bool have_boto3() {
    int status = 0;
    run_command("python3 -c 'import boto3' >/dev/null 2>&1", &status);
    return status == 0;
}

}  // namespace

class s3_client_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        std::optional<std::string> program = find_program("moto_server");
        if (!program) {
            skip_reason_ = new std::string("moto_server is not installed");
            return;
        }
        open_ = new moto_process;
        if (!open_->start(*program, {}) || !open_->wait_ready(std::chrono::seconds(60))) {
            start_failed_ = true;
            return;
        }
        program_ = new std::string(*program);
    }

    // The signature-checking server costs a few seconds to start, and ctest
    // runs every test in its own process, so only the test using it starts it.
    static void start_strict_server() {
        if (strict_ != nullptr || program_ == nullptr || !have_boto3()) return;
        // The first three requests (the IAM calls below) go unauthenticated;
        // every later one must carry a valid signature of the issued key.
        strict_ = new moto_process;
        if (!strict_->start(*program_, {"INITIAL_NO_AUTH_ACTION_COUNT=3"}) ||
            !strict_->wait_ready(std::chrono::seconds(60))) {
            return;
        }
        std::string script =
            "import boto3, json\n"
            "iam = boto3.client('iam', endpoint_url='" + strict_->url() + "', region_name='us-east-1',\n"
            "                   aws_access_key_id='bootstrap', aws_secret_access_key='bootstrap')\n"
            "iam.create_user(UserName='kinesd')\n"
            "k = iam.create_access_key(UserName='kinesd')['AccessKey']\n"
            "iam.put_user_policy(UserName='kinesd', PolicyName='all', PolicyDocument=json.dumps(\n"
            "    {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))\n"
            "print(k['AccessKeyId'] + ' ' + k['SecretAccessKey'])\n";
        std::string out = run_command("python3 -c \"$(cat <<'PYEOF'\n" + script + "PYEOF\n)\" 2>/dev/null");
        std::size_t space = out.find(' ');
        if (space != std::string::npos) {
            strict_key_ = new std::string(out.substr(0, space));
            std::string secret = out.substr(space + 1);
            while (!secret.empty() && secret.back() == '\n') secret.pop_back();
            strict_secret_ = new std::string(secret);
        }
    }

    static void TearDownTestSuite() {
        for (moto_process** p : {&open_, &strict_}) {
            if (*p != nullptr) (*p)->stop();
            delete *p;
            *p = nullptr;
        }
        delete skip_reason_;
        delete program_;
        program_ = nullptr;
        delete strict_key_;
        delete strict_secret_;
        skip_reason_ = strict_key_ = strict_secret_ = nullptr;
    }

    void SetUp() override {
        if (skip_reason_ != nullptr) GTEST_SKIP() << *skip_reason_;
        // Installed but not starting is a broken environment, not a reason to skip.
        if (start_failed_) FAIL() << "moto_server is installed but did not start";
    }

    static delivery::s3_config open_config() {
        delivery::s3_config c;
        c.endpoint = open_->url();
        c.credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
        c.request_timeout = std::chrono::seconds(60);
        return c;
    }

    static bool strict_available() { return strict_key_ != nullptr; }

    static delivery::s3_config strict_config() {
        delivery::s3_config c;
        c.endpoint = strict_->url();
        c.credentials = {*strict_key_, *strict_secret_, ""};
        return c;
    }

    // Reads an object through boto3 and returns its bytes as hex.
    static std::string boto3_get_hex(const std::string& endpoint, const std::string& bucket, const std::string& key) {
        std::string script =
            "import boto3, sys\n"
            "s3 = boto3.client('s3', endpoint_url='" + endpoint + "', region_name='us-east-1',\n"
            "                  aws_access_key_id='a', aws_secret_access_key='b')\n"
            "key = bytes.fromhex('" + kinesd::sigv4::to_hex(reinterpret_cast<const unsigned char*>(key.data()), key.size()) +
            "').decode('utf-8')\n"
            "print(s3.get_object(Bucket='" + bucket + "', Key=key)['Body'].read().hex())\n";
        std::string out = run_command("python3 -c \"$(cat <<'PYEOF'\n" + script + "PYEOF\n)\" 2>/dev/null");
        while (!out.empty() && out.back() == '\n') out.pop_back();
        return out;
    }

    static inline moto_process* open_ = nullptr;
    static inline moto_process* strict_ = nullptr;
    static inline std::string* skip_reason_ = nullptr;
    static inline std::string* program_ = nullptr;
    static inline bool start_failed_ = false;
    static inline std::string* strict_key_ = nullptr;
    static inline std::string* strict_secret_ = nullptr;
};

TEST_F(s3_client_test, small_object_round_trip) {
    delivery::s3_client client(open_config());
    ASSERT_TRUE(client.create_bucket("round-trip").ok());
    const std::string body = "record-1record-2";
    delivery::s3_result put = client.put_object("round-trip", "2018/08/27/10/stream-1-2018-08-27-10-30-05-u.gz",
                                                body, "application/octet-stream", "gzip");
    ASSERT_TRUE(put.ok()) << put.code << ": " << put.message;
    EXPECT_EQ(put.http_status, 200);
    EXPECT_EQ(put.etag, "\"" + md5_hex(body) + "\"");

    std::string read;
    std::string encoding;
    delivery::s3_result get =
        client.get_object("round-trip", "2018/08/27/10/stream-1-2018-08-27-10-30-05-u.gz", read, &encoding);
    ASSERT_TRUE(get.ok()) << get.code << ": " << get.message;
    EXPECT_EQ(read, body);
    EXPECT_EQ(encoding, "gzip");

    // An empty object is a valid object.
    ASSERT_TRUE(client.put_object("round-trip", "empty", "").ok());
    read = "x";
    ASSERT_TRUE(client.get_object("round-trip", "empty", read).ok());
    EXPECT_EQ(read, "");
}

TEST_F(s3_client_test, keys_with_awkward_characters_are_stored_as_given) {
    delivery::s3_client client(open_config());
    ASSERT_TRUE(client.create_bucket("awkward-keys").ok());
    const std::vector<std::string> keys = {
        "year=2018/month=08/day=27/hour=10/s-1-2018-08-27-10-30-05-a.gz",
        "with space/and:colon/x=y&z/plus+sign/tilde~/s.txt",
        "caf\xc3\xa9/percent%20literal/semi;colon,comma",
        "double//slash/./dot",
    };
    for (std::size_t i = 0; i < keys.size(); ++i) {
        delivery::s3_result r = client.put_object("awkward-keys", keys[i], "body-" + std::to_string(i));
        ASSERT_TRUE(r.ok()) << keys[i] << " -> " << r.code << ": " << r.message;
    }
    std::vector<std::string> listed;
    ASSERT_TRUE(client.list_objects_v2("awkward-keys", "", listed).ok());
    std::sort(listed.begin(), listed.end());
    std::vector<std::string> expected = keys;
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(listed, expected);

    for (std::size_t i = 0; i < keys.size(); ++i) {
        std::string read;
        ASSERT_TRUE(client.get_object("awkward-keys", keys[i], read).ok()) << keys[i];
        EXPECT_EQ(read, "body-" + std::to_string(i));
    }
    std::vector<std::string> under;
    ASSERT_TRUE(client.list_objects_v2("awkward-keys", "with space/", under).ok());
    EXPECT_EQ(under, std::vector<std::string>{keys[1]});

    if (!have_boto3()) return;
    // Another client finds the objects under the same names.
    std::string hex = boto3_get_hex(open_->url(), "awkward-keys", keys[1]);
    EXPECT_EQ(hex, kinesd::sigv4::to_hex(reinterpret_cast<const unsigned char*>("body-1"), 6));
}

TEST_F(s3_client_test, multipart_upload_above_the_threshold) {
    delivery::s3_config config = open_config();
    config.multipart_threshold = 6 * delivery::mebibyte;
    config.part_size = 1;  // raised to S3's 5 MiB minimum
    delivery::s3_client client(config);
    EXPECT_EQ(client.part_size_for(12 * delivery::mebibyte), delivery::s3_min_part_size);
    EXPECT_EQ(client.part_size_for(std::size_t{100000} * delivery::mebibyte), 10 * delivery::mebibyte);
    ASSERT_TRUE(client.create_bucket("multipart").ok());

    const std::string body = random_body(12 * delivery::mebibyte + 12345, 7);
    delivery::s3_result r =
        client.put_object("multipart", "big/object key=1.snappy", body, "application/octet-stream", "snappy-java");
    ASSERT_TRUE(r.ok()) << r.code << ": " << r.message;
    // A multipart ETag is "<md5 of the part md5s>-<part count>".
    EXPECT_EQ(r.etag.substr(r.etag.size() - 3), "-3\"") << r.etag;

    std::string read;
    std::string encoding;
    ASSERT_TRUE(client.get_object("multipart", "big/object key=1.snappy", read, &encoding).ok());
    EXPECT_EQ(read.size(), body.size());
    EXPECT_TRUE(read == body);
    EXPECT_EQ(encoding, "snappy-java");

    // Below the threshold it is one PUT, whose ETag is the plain MD5.
    const std::string small = random_body(1024, 8);
    delivery::s3_result single = client.put_object("multipart", "small", small);
    ASSERT_TRUE(single.ok());
    EXPECT_EQ(single.etag, "\"" + md5_hex(small) + "\"");
}

TEST_F(s3_client_test, errors_are_classified) {
    delivery::s3_client client(open_config());
    ASSERT_TRUE(client.create_bucket("errors-bucket").ok());

    std::string read;
    delivery::s3_result missing_key = client.get_object("errors-bucket", "nope", read);
    EXPECT_EQ(missing_key.outcome, delivery::s3_outcome::permanent);
    EXPECT_EQ(missing_key.http_status, 404);
    EXPECT_EQ(missing_key.code, "NoSuchKey");
    EXPECT_FALSE(missing_key.message.empty());

    delivery::s3_result missing_bucket = client.put_object("no-such-bucket-here", "k", "v");
    EXPECT_EQ(missing_bucket.outcome, delivery::s3_outcome::permanent);
    EXPECT_EQ(missing_bucket.http_status, 404);
    EXPECT_EQ(missing_bucket.code, "NoSuchBucket");

    // The multipart path reports the failing step and leaves nothing behind.
    delivery::s3_config config = open_config();
    config.multipart_threshold = 1;
    delivery::s3_client multipart(config);
    delivery::s3_result failed = multipart.put_object("no-such-bucket-here", "k", "value");
    EXPECT_EQ(failed.outcome, delivery::s3_outcome::permanent);
    EXPECT_EQ(failed.code, "NoSuchBucket");
}

TEST_F(s3_client_test, signatures_verify_against_a_strict_server) {
    start_strict_server();
    if (!strict_available()) GTEST_SKIP() << "needs python3 with boto3 to issue IAM credentials";
    delivery::s3_config config = strict_config();
    config.multipart_threshold = 6 * delivery::mebibyte;
    delivery::s3_client client(config);
    delivery::s3_result created = client.create_bucket("signed-bucket");
    ASSERT_TRUE(created.ok()) << created.code << ": " << created.message;

    // moto's own verifier mis-handles '=', ':' and '+' in keys (boto3's
    // requests fail the same way), so these keys stick to what it checks
    // correctly: slashes, spaces, '~'. The open server covers the rest.
    for (const std::string key : {"plain", "dir/sub dir/with space~tilde.gz"}) {
        delivery::s3_result r = client.put_object("signed-bucket", key, "signed body", "text/plain", "");
        ASSERT_TRUE(r.ok()) << key << " -> " << r.code << ": " << r.message;
        std::string read;
        ASSERT_TRUE(client.get_object("signed-bucket", key, read).ok()) << key;
        EXPECT_EQ(read, "signed body");
    }
    const std::string body = random_body(7 * delivery::mebibyte, 9);
    delivery::s3_result big = client.put_object("signed-bucket", "multi/part", body);
    ASSERT_TRUE(big.ok()) << big.code << ": " << big.message;
    std::vector<std::string> keys;
    // A prefix without '/': moto also mis-verifies an encoded '/' in the query.
    delivery::s3_result listed = client.list_objects_v2("signed-bucket", "dir", keys);
    ASSERT_TRUE(listed.ok()) << listed.code << ": " << listed.message;
    EXPECT_EQ(keys, std::vector<std::string>{"dir/sub dir/with space~tilde.gz"});

    // The same request signed with the wrong secret is refused.
    config.credentials.secret_key = "not-the-secret";
    delivery::s3_client wrong(config);
    delivery::s3_result refused = wrong.put_object("signed-bucket", "plain", "x");
    EXPECT_EQ(refused.outcome, delivery::s3_outcome::permanent);
    EXPECT_EQ(refused.http_status, 403);
    EXPECT_EQ(refused.code, "SignatureDoesNotMatch");
}

// These need no S3 server.

TEST(s3_client_transport, connection_refused_is_retryable) {
    delivery::s3_config config;
    config.endpoint = "http://127.0.0.1:" + std::to_string(unused_port());
    config.credentials = {"a", "b", ""};
    delivery::s3_client client(config);
    delivery::s3_result r = client.put_object("bucket", "key", "body");
    EXPECT_EQ(r.outcome, delivery::s3_outcome::retryable);
    EXPECT_EQ(r.code, "ConnectionError");
    EXPECT_EQ(r.http_status, 0);
}

TEST(s3_client_transport, silent_server_times_out) {
    // Accepts the connection (the kernel does, through the backlog) and never answers.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(fd, 4), 0);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);

    delivery::s3_config config;
    config.endpoint = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    config.credentials = {"a", "b", ""};
    config.request_timeout = std::chrono::milliseconds(300);
    delivery::s3_client client(config);
    auto start = std::chrono::steady_clock::now();
    delivery::s3_result r = client.put_object("bucket", "key", "body");
    auto took = std::chrono::steady_clock::now() - start;
    close(fd);
    EXPECT_EQ(r.outcome, delivery::s3_outcome::retryable);
    EXPECT_EQ(r.code, "RequestTimeout");
    EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(s3_client_transport, endpoints) {
    delivery::s3_client::endpoint e;
    ASSERT_TRUE(delivery::parse_s3_endpoint("http://127.0.0.1:5000", e));
    EXPECT_FALSE(e.tls);
    EXPECT_EQ(e.host, "127.0.0.1");
    EXPECT_EQ(e.port, "5000");
    EXPECT_EQ(e.host_header, "127.0.0.1:5000");
    ASSERT_TRUE(delivery::parse_s3_endpoint("https://[::1]:9443/some/path", e));
    EXPECT_TRUE(e.tls);
    EXPECT_EQ(e.host, "::1");
    EXPECT_EQ(e.port, "9443");
    EXPECT_EQ(e.host_header, "[::1]:9443");
    ASSERT_TRUE(delivery::parse_s3_endpoint("http://localhost", e));
    EXPECT_EQ(e.port, "80");
    EXPECT_EQ(e.host_header, "localhost");
    EXPECT_FALSE(delivery::parse_s3_endpoint("ftp://x", e));
    EXPECT_FALSE(delivery::parse_s3_endpoint("127.0.0.1:5000", e));
    EXPECT_FALSE(delivery::parse_s3_endpoint("http://:80", e));
    EXPECT_FALSE(delivery::parse_s3_endpoint("http://host:8x", e));

    delivery::s3_config config;
    config.endpoint = "not a url";
    delivery::s3_client client(config);
    delivery::s3_result r = client.put_object("b", "k", "v");
    EXPECT_EQ(r.outcome, delivery::s3_outcome::permanent);
    EXPECT_EQ(r.code, "InvalidEndpoint");
}

TEST(s3_client_transport, xml_values) {
    const std::string xml =
        "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code>"
        "<Message>Please reduce your request rate &amp; retry &lt;soon&gt; &#233;&#x41;</Message></Error>";
    EXPECT_EQ(delivery::s3_xml_value(xml, "Code"), "SlowDown");
    EXPECT_EQ(delivery::s3_xml_value(xml, "Message"), "Please reduce your request rate & retry <soon> \xc3\xa9" "A");
    EXPECT_EQ(delivery::s3_xml_value(xml, "Missing"), "");
}

#ifdef KINESD_S3_TLS
// https against moto_server serving a certificate made here for 127.0.0.1.
TEST(s3_client_tls, verified_https_round_trip) {
    std::optional<std::string> program = find_program("moto_server");
    if (!program) GTEST_SKIP() << "moto_server is not installed";
    if (!find_program("openssl")) GTEST_SKIP() << "the openssl command is not installed";
    char dir_template[] = "/tmp/kinesd_tls_XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    const std::string dir = dir_template;
    auto make_cert = [&](const std::string& name) {
        int status = 0;
        run_command("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
                    " -addext subjectAltName=IP:127.0.0.1 -keyout " + dir + "/" + name + ".key -out " + dir + "/" +
                        name + ".pem >/dev/null 2>&1",
                    &status);
        return status == 0;
    };
    ASSERT_TRUE(make_cert("server"));
    ASSERT_TRUE(make_cert("stranger"));

    moto_process moto;
    ASSERT_TRUE(moto.start(*program, {}, {"-c", dir + "/server.pem", "-k", dir + "/server.key"}));
    ASSERT_TRUE(moto.wait_ready(std::chrono::seconds(60)));

    delivery::s3_config config;
    config.endpoint = "https://127.0.0.1:" + std::to_string(moto.port);
    config.credentials = {"a", "b", ""};
    config.ca_file = dir + "/server.pem";
    delivery::s3_client client(config);
    delivery::s3_result created = client.create_bucket("tls-bucket");
    EXPECT_TRUE(created.ok()) << created.code << ": " << created.message;
    EXPECT_TRUE(client.put_object("tls-bucket", "a b=c", "over tls").ok());
    std::string read;
    EXPECT_TRUE(client.get_object("tls-bucket", "a b=c", read).ok());
    EXPECT_EQ(read, "over tls");

    // A server whose certificate the client does not trust is refused.
    config.ca_file = dir + "/stranger.pem";
    delivery::s3_client distrustful(config);
    delivery::s3_result refused = distrustful.put_object("tls-bucket", "k", "v");
    EXPECT_EQ(refused.outcome, delivery::s3_outcome::permanent);
    EXPECT_EQ(refused.code, "ConnectionError");
    EXPECT_NE(refused.message.find("TLS handshake"), std::string::npos) << refused.message;

    moto.stop();
    run_command("rm -rf " + dir);
}
#else
TEST(s3_client_tls, https_is_refused_without_tls_support) {
    delivery::s3_config config;
    config.endpoint = "https://127.0.0.1:" + std::to_string(unused_port());
    config.credentials = {"a", "b", ""};
    delivery::s3_client client(config);
    delivery::s3_result r = client.put_object("bucket", "key", "body");
    EXPECT_EQ(r.outcome, delivery::s3_outcome::permanent);
    EXPECT_EQ(r.code, "TlsUnavailable");
}
#endif
