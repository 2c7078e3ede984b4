#include "engine/model/checkpoint.h"

#include <nlohmann/json.hpp>
#include <string>

#include "engine/model/mapped_file.h"
#include "llm/error.h"

namespace llm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

[[noreturn]] void corrupt(const fs::path& path, const std::string& what) {
  throw Error(ErrorCode::kCorruptFile, path.string() + ": " + what);
}

std::string excerpt(const json& j) {
  std::string s = j.dump();
  constexpr size_t kMax = 80;
  if (s.size() > kMax) s = s.substr(0, kMax) + "...";
  return s;
}

json read_json_object(const fs::path& path) {
  const MappedFile file = MappedFile::open(path);
  const auto* text = reinterpret_cast<const char*>(file.bytes().data());
  json j;
  try {
    j = json::parse(text, text + file.bytes().size());
  } catch (const json::parse_error& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " tag; keep line and column.
    std::string what = e.what();
    const size_t tag_end = what.find("] ");
    if (what.starts_with("[") && tag_end != std::string::npos) what.erase(0, tag_end + 2);
    corrupt(path, "not valid JSON: " + what);
  }
  if (!j.is_object()) corrupt(path, std::string("expected a JSON object, found ") + j.type_name());
  return j;
}

// A shard name from the index must stay inside the model directory: a hostile or broken index
// must not make us map "../../something" or an absolute path.
bool is_plain_file_name(const std::string& name) {
  const fs::path p(name);
  return !name.empty() && p.is_relative() && p.has_filename() && p == p.filename() && name != "." &&
         name != "..";
}

bool present(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec) || ec;  // on a stat error, let the open report it
}

// Opens every shard named in the index's weight_map and records which shard holds each tensor.
void open_shards(const fs::path& model_dir, const fs::path& index_path,
                 std::vector<SafetensorsFile>& files, std::map<std::string, size_t>& owner) {
  const json index = read_json_object(index_path);
  const auto wm = index.find("weight_map");
  if (wm == index.end()) corrupt(index_path, "field 'weight_map' is missing");
  if (!wm->is_object()) {
    corrupt(index_path,
            "field 'weight_map' must map tensor names to shard files, found " + excerpt(*wm));
  }
  if (wm->empty()) corrupt(index_path, "field 'weight_map' is empty");

  std::map<std::string, size_t> shard_index;  // shard file name -> position in files
  for (const auto& [tensor, shard] : wm->items()) {
    if (!shard.is_string() || !is_plain_file_name(shard.get<std::string>())) {
      corrupt(index_path, "weight_map entry for tensor '" + tensor +
                              "' must name a file in the model directory, found " + excerpt(shard));
    }
    const std::string& name = shard.get_ref<const std::string&>();
    auto it = shard_index.find(name);
    if (it == shard_index.end()) {
      const fs::path shard_path = model_dir / name;
      if (!present(shard_path)) {
        throw Error(ErrorCode::kNotFound, shard_path.string() + ": shard listed in " +
                                              index_path.string() + " not found");
      }
      files.push_back(SafetensorsFile::open(shard_path));
      it = shard_index.emplace(name, files.size() - 1).first;
    }
    const SafetensorsFile& file = files[it->second];
    if (file.find(tensor) == nullptr) {
      corrupt(index_path, "weight_map puts tensor '" + tensor + "' in '" + name + "', but " +
                              file.path().string() + " has no such tensor");
    }
    owner.emplace(tensor, it->second);
  }
}

}  // namespace

Checkpoint Checkpoint::open(const fs::path& model_dir) {
  if (is_gguf_file(model_dir)) {
    Checkpoint ck;
    ck.dir_ = model_dir;
    ck.gguf_.emplace(GgufModel::open(model_dir));
    ck.config_ = ck.gguf_->config();
    ck.gguf_vocab_ = ck.gguf_->vocab();
    return ck;
  }
  std::error_code ec;
  const fs::file_status status = fs::status(model_dir, ec);
  if (!fs::exists(status)) {
    throw Error(ErrorCode::kNotFound,
                "model directory '" + model_dir.string() + "' does not exist");
  }
  if (!fs::is_directory(status)) {
    throw Error(ErrorCode::kNotFound,
                "model directory '" + model_dir.string() + "' is not a directory");
  }

  Checkpoint ck;
  ck.dir_ = model_dir;
  ck.config_ = load_model_config(model_dir);

  const fs::path index_path = model_dir / "model.safetensors.index.json";
  const fs::path single_path = model_dir / "model.safetensors";
  if (present(index_path)) {
    open_shards(model_dir, index_path, ck.files_, ck.owner_);
  } else if (present(single_path)) {
    ck.files_.push_back(SafetensorsFile::open(single_path));
    for (const auto& entry : ck.files_.front().tensors()) ck.owner_.emplace(entry.first, 0);
  } else {
    throw Error(ErrorCode::kNotFound, "no model.safetensors or model.safetensors.index.json in '" +
                                          model_dir.string() + "'");
  }
  return ck;
}

bool Checkpoint::has_tensor(const std::string& name) const {
  return gguf_ ? gguf_->tensors().contains(name) : owner_.contains(name);
}

void Checkpoint::release_tensors() {
  owner_.clear();
  files_.clear();
  gguf_.reset();
}

const TensorView& Checkpoint::tensor(const std::string& name,
                                     const std::vector<int64_t>& shape) const {
  const TensorView* found = nullptr;
  if (gguf_) {
    const auto g = gguf_->tensors().find(name);
    if (g != gguf_->tensors().end()) found = &g->second;
  } else if (const auto it = owner_.find(name); it != owner_.end()) {
    found = files_[it->second].find(name);
  }
  if (found == nullptr) {
    throw Error(ErrorCode::kCorruptFile, "tensor '" + name + "' is missing from " + dir_.string());
  }
  const TensorView& view = *found;
  if (view.shape != shape) {
    throw Error(ErrorCode::kCorruptFile, "tensor '" + name + "' in " + view.file.string() +
                                             " has shape " + format_shape(view.shape) +
                                             ", expected " + format_shape(shape));
  }
  return view;
}

}  // namespace llm
