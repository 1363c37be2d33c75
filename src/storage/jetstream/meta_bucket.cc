// Metadata in the key-value bucket "<prefix>_meta": values, revisions for
// compare-and-swap, scans and watches.
#include <spdlog/spdlog.h>

#include <cstring>
#include <map>
#include <stdexcept>

#include "storage/jetstream/names.h"
#include "storage/jetstream/store_impl.h"

namespace kinesd::storage::jetstream {

namespace {

struct entry_guard {
    kvEntry* e = nullptr;
    ~entry_guard() { kvEntry_Destroy(e); }
};

}  // namespace

struct jetstream_store::meta_watch {
    std::string prefix;  // decoded
    meta_watcher fn;
    jetstream_store* store = nullptr;
    natsSubscription* sub = nullptr;
    std::mutex mutex;  // held while fn runs; unwatch waits for it
    bool active = true;
};

void jetstream_store::open_bucket() {
    bucket_ = meta_bucket_name(options_.prefix);
    kv_subject_prefix_ = "$KV." + bucket_ + ".";
    natsStatus s = js_KeyValue(&kv_, js_, bucket_.c_str());
    if (s == NATS_NOT_FOUND) {
        kvConfig config;
        kvConfig_Init(&config);
        config.Bucket = bucket_.c_str();
        config.History = 1;
        config.StorageType = js_FileStorage;
        config.Replicas = options_.replicas;
        s = js_CreateKeyValue(&kv_, js_, &config);
        // Another front end may have created it meanwhile.
        if (s != NATS_OK) s = js_KeyValue(&kv_, js_, bucket_.c_str());
    }
    if (s != NATS_OK) throw std::runtime_error("cannot open the NATS key-value bucket " + bucket_ + ": " + nats_error(s));
}

status jetstream_store::classify(natsStatus s, const char* what) const {
    if (s == NATS_OK) return status::success();
    const std::string text = std::string(what) + ": " + nats_error(s);
    switch (s) {
        case NATS_NOT_FOUND: return status::not_found(text);
        case NATS_TIMEOUT:
        case NATS_NO_RESPONDERS:
        case NATS_CONNECTION_CLOSED:
        case NATS_CONNECTION_DISCONNECTED:
        case NATS_IO_ERROR:
        case NATS_NO_SERVER:
        case NATS_NOT_YET_CONNECTED: return status::unavailable(text);
        default: return status::other(text);
    }
}

status jetstream_store::put_meta(std::string_view key, std::string_view value) {
    uint64_t revision = 0;
    return classify(kvStore_Put(&revision, kv_, encode_meta_key(key).c_str(), value.data(), int(value.size())),
                    "put metadata");
}

status jetstream_store::delete_meta(std::string_view key) {
    return classify(kvStore_Delete(kv_, encode_meta_key(key).c_str()), "delete metadata");
}

bool jetstream_store::get_meta(std::string_view key, std::string* value) const {
    std::uint64_t revision = 0;
    return get_meta_revision(key, value, &revision).ok() && revision != 0;
}

status jetstream_store::get_meta_revision(std::string_view key, std::string* value, std::uint64_t* revision) const {
    *revision = 0;
    entry_guard g;
    natsStatus s = kvStore_Get(&g.e, kv_, encode_meta_key(key).c_str());
    if (s == NATS_NOT_FOUND) return status::success();
    if (s != NATS_OK) return classify(s, "get metadata");
    if (value) value->assign(static_cast<const char*>(kvEntry_Value(g.e)), std::size_t(kvEntry_ValueLen(g.e)));
    *revision = kvEntry_Revision(g.e);
    return status::success();
}

status jetstream_store::put_meta_if(std::string_view key, std::string_view value, std::uint64_t expected,
                                    std::uint64_t* revision) {
    const auto encoded = encode_meta_key(key);
    uint64_t written = 0;
    // Create also takes a key whose last entry is a delete marker.
    natsStatus s = expected == 0
                       ? kvStore_Create(&written, kv_, encoded.c_str(), value.data(), int(value.size()))
                       : kvStore_Update(&written, kv_, encoded.c_str(), value.data(), int(value.size()), expected);
    if (s == NATS_OK) {
        if (revision) *revision = written;
        return status::success();
    }
    if (s == NATS_ERR) {
        // The server's "wrong last sequence": another revision is there
        // (the client library does not pass the error code on).
        std::uint64_t now = 0;
        if (get_meta_revision(key, nullptr, &now).ok() && now != expected) return status::conflict();
    }
    return classify(s, "put metadata if unchanged");
}

status jetstream_store::delete_meta_if(std::string_view key, std::uint64_t expected) {
    if (expected == 0) {
        std::uint64_t now = 0;
        auto st = get_meta_revision(key, nullptr, &now);
        if (!st.ok()) return st;
        return now == 0 ? status::success() : status::conflict();
    }
    // kvStore_Delete takes no expected revision: the delete marker is
    // published by hand, as the bucket's own deletes are, with the check.
    const std::string subject = kv_subject_prefix_ + encode_meta_key(key);
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, nullptr, 0);
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "KV-Operation", "DEL");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.ExpectLastSubjectSeq = expected;
    jsErrCode code = jsErrCode(0);
    if (s == NATS_OK) s = js_PublishMsg(nullptr, js_, msg, &po, &code);
    natsMsg_Destroy(msg);
    if (s == NATS_ERR && code == JSStreamWrongLastSequenceErr) return status::conflict();
    return classify(s, "delete metadata if unchanged");
}

void jetstream_store::scan_meta(std::string_view prefix,
                                const std::function<void(std::string_view, std::string_view)>& fn) const {
    // Every encoded key is a single subject token, so the server cannot
    // filter by prefix: the bucket's subjects (its keys) come from the stream
    // state, the matching ones' latest values from direct gets, answered on
    // the reply subscription every read uses. (A key-value watcher would do
    // it in one call, but destroying one while an update arrives trips the
    // client library's subscription race described at on_read_reply.)
    auto* self = const_cast<jetstream_store*>(this);
    const std::string stream = "KV_" + bucket_;
    const std::string filter = kv_subject_prefix_ + ">";
    jsOptions o;
    jsOptions_Init(&o);
    o.Stream.Info.SubjectsFilter = filter.c_str();
    jsStreamInfo* info = nullptr;
    jsErrCode code = jsErrCode(0);
    natsStatus s = js_GetStreamInfo(&info, js_, stream.c_str(), &o, &code);
    if (s != NATS_OK) {
        spdlog::error("storage: scanning metadata failed: {}", nats_error(s));
        return;
    }
    const std::string encoded_prefix = kv_subject_prefix_ + encode_meta_key(prefix);
    std::vector<std::string> subjects;
    if (info->State.Subjects)
        for (int i = 0; i < info->State.Subjects->Count; ++i)
            if (std::string_view(info->State.Subjects->List[i].Subject).starts_with(encoded_prefix))
                subjects.emplace_back(info->State.Subjects->List[i].Subject);
    jsStreamInfo_Destroy(info);
    std::vector<std::string> requests;
    requests.reserve(subjects.size());
    for (auto& subject : subjects) requests.push_back(api_prefix_ + ".DIRECT.GET." + stream + "." + subject);
    std::map<std::string, std::string, std::less<>> found;
    self->request_all(requests, [&](std::size_t i, natsMsg* m) {
        const char* value = nullptr;
        if (natsMsg_GetDataLength(m) == 0 && natsMsgHeader_Get(m, "Status", &value) == NATS_OK) return;
        if (natsMsgHeader_Get(m, "KV-Operation", &value) == NATS_OK) return;  // deleted or purged
        std::string key;
        if (decode_meta_key(std::string_view(subjects[i]).substr(kv_subject_prefix_.size()), &key))
            found[key].assign(natsMsg_GetData(m), std::size_t(natsMsg_GetDataLength(m)));
    });
    for (auto& [key, value] : found) fn(key, value);
}

void jetstream_store::on_meta_change(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* w = static_cast<meta_watch*>(closure);
    std::lock_guard lock(w->mutex);
    const char* subject = natsMsg_GetSubject(msg);
    const auto& head = w->store->kv_subject_prefix_;
    std::string key;
    if (w->active && subject && std::strncmp(subject, head.c_str(), head.size()) == 0 &&
        decode_meta_key(subject + head.size(), &key) && key.starts_with(w->prefix)) {
        const char* op = nullptr;
        const bool removed = natsMsgHeader_Get(msg, "KV-Operation", &op) == NATS_OK && op &&
                             (std::strcmp(op, "DEL") == 0 || std::strcmp(op, "PURGE") == 0);
        // The revision of a change is its sequence in the bucket's stream,
        // as kvEntry_Revision reports it for a read.
        std::uint64_t revision = 0;
        jsMsgMetaData* meta = nullptr;
        if (natsMsg_GetMetaData(&meta, msg) == NATS_OK && meta) {
            revision = meta->Sequence.Stream;
            jsMsgMetaData_Destroy(meta);
        }
        if (removed) {
            w->fn(key, nullptr, revision);
        } else {
            const std::string value(natsMsg_GetData(msg), std::size_t(natsMsg_GetDataLength(msg)));
            w->fn(key, &value, revision);
        }
    }
    natsMsg_Destroy(msg);
}

std::uint64_t jetstream_store::watch_meta(std::string_view prefix, meta_watcher fn) {
    auto w = std::make_shared<meta_watch>();
    w->prefix = std::string(prefix);
    w->fn = std::move(fn);
    w->store = this;
    // An ordered consumer from the next change on: no replay of the current
    // values, and the library restarts it where it left off after a gap.
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = nullptr;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverNew;
    const std::string filter = kv_subject_prefix_ + ">";
    natsStatus s = js_Subscribe(&w->sub, js_, filter.c_str(), on_meta_change, w.get(), nullptr, &so, nullptr);
    if (s != NATS_OK) {
        spdlog::error("storage: watching metadata under '{}' failed: {}", prefix, nats_error(s));
        return 0;
    }
    std::lock_guard lock(watches_mutex_);
    const auto id = next_watch_id_++;
    watches_.emplace(id, std::move(w));
    return id;
}

void jetstream_store::unwatch_meta(std::uint64_t id) {
    std::shared_ptr<meta_watch> w;
    {
        std::lock_guard lock(watches_mutex_);
        auto it = watches_.find(id);
        if (it == watches_.end()) return;
        w = std::move(it->second);
        watches_.erase(it);
        // Unsubscribed now, freed with the connection: the library may
        // still be delivering a message to it.
        stopped_watches_.push_back(w);
    }
    {
        std::lock_guard lock(w->mutex);
        w->active = false;
    }
    natsSubscription_Unsubscribe(w->sub);
}

std::uint64_t jetstream_store::meta_sync_point() const {
    // The bucket's last sequence: every watch is an ordered consumer of the
    // bucket's stream, so one that delivered it delivered all before it.
    jsStreamInfo* info = nullptr;
    jsErrCode code = jsErrCode(0);
    const std::string stream = "KV_" + bucket_;
    natsStatus s = js_GetStreamInfo(&info, js_, stream.c_str(), nullptr, &code);
    if (s != NATS_OK) return 0;  // unreachable: no better answer than not waiting
    const std::uint64_t last = info->State.LastSeq;
    jsStreamInfo_Destroy(info);
    return last;
}

void jetstream_store::stop_watches() {
    std::vector<std::uint64_t> ids;
    {
        std::lock_guard lock(watches_mutex_);
        for (auto& [id, w] : watches_) ids.push_back(id);
    }
    for (auto id : ids) unwatch_meta(id);
}

void jetstream_store::free_watches() {
    for (auto& w : stopped_watches_) natsSubscription_Destroy(w->sub);
    stopped_watches_.clear();
}

}  // namespace kinesd::storage::jetstream
