#include "common/node_id.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "common/random.h"

namespace kinesd {

std::string load_node_id(const std::string& data_dir) {
    namespace fs = std::filesystem;
    const auto path = fs::path(data_dir) / "node-id";
    {
        std::ifstream in(path);
        std::string id;
        if (in && std::getline(in, id) && !id.empty()) return id;
    }
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    static const char hex[] = "0123456789abcdef";
    std::string id = std::string(host) + "-";
    for (unsigned char c : random_bytes(6)) {
        id += hex[c >> 4];
        id += hex[c & 15];
    }
    const auto tmp = path.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << id << '\n';
        if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
    }
    fs::rename(tmp, path);
    return id;
}

}  // namespace kinesd
