// GcmKey: AES-256-GCM decryption with a context set up once per key. Links against the OpenSSL
// inside the Node.js binary (its symbols are exported to addons), through Node-API only.
#include <node_api.h>
#include <openssl/evp.h>

namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kIvBytes = 12;
constexpr size_t kTagBytes = 16;

napi_value ThrowType(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

bool BytesOf(napi_env env, napi_value value, unsigned char** data, size_t* length) {
  bool is_typed_array = false;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return false;
  napi_typedarray_type type;
  void* raw = nullptr;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, &buffer, &offset) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  *data = static_cast<unsigned char*>(raw);
  return true;
}

void FreeContext(napi_env, void* context, void*) {
  EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(context));
}

// new GcmKey(key)
napi_value Construct(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value self;
  napi_get_cb_info(env, info, &argc, argv, &self, nullptr);
  unsigned char* key = nullptr;
  size_t key_length = 0;
  if (argc < 1 || !BytesOf(env, argv[0], &key, &key_length) || key_length != kKeyBytes)
    return ThrowType(env, "GcmKey needs a 32-byte key");
  EVP_CIPHER_CTX* context = EVP_CIPHER_CTX_new();
  if (context == nullptr ||
      EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, kIvBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(context, nullptr, nullptr, key, nullptr) != 1) {
    EVP_CIPHER_CTX_free(context);
    napi_throw_error(env, nullptr, "OpenSSL could not set up AES-256-GCM");
    return nullptr;
  }
  napi_wrap(env, self, context, FreeContext, nullptr, nullptr);
  return self;
}

// key.open(sealed, aadEnd, out) -> plaintext bytes written to out, or -1
napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_value self;
  napi_get_cb_info(env, info, &argc, argv, &self, nullptr);
  void* unwrapped = nullptr;
  if (napi_unwrap(env, self, &unwrapped) != napi_ok) return ThrowType(env, "open is a GcmKey method");
  auto* context = static_cast<EVP_CIPHER_CTX*>(unwrapped);
  unsigned char* sealed = nullptr;
  size_t length = 0;
  uint32_t aad_end = 0;
  unsigned char* out = nullptr;
  size_t out_length = 0;
  if (argc < 3 || !BytesOf(env, argv[0], &sealed, &length) ||
      napi_get_value_uint32(env, argv[1], &aad_end) != napi_ok || !BytesOf(env, argv[2], &out, &out_length))
    return ThrowType(env, "open needs (sealed: Uint8Array, aadEnd: number, out: Uint8Array)");
  if (length < aad_end + kIvBytes + kTagBytes) return ThrowType(env, "sealed is too short for its layout");

  const unsigned char* iv = sealed + aad_end;
  const unsigned char* ciphertext = iv + kIvBytes;
  const size_t ciphertext_length = length - aad_end - kIvBytes - kTagBytes;
  unsigned char* tag = sealed + length - kTagBytes;

  if (out_length < ciphertext_length) return ThrowType(env, "out is shorter than the ciphertext");
  int written = 0;
  int final_written = 0;
  const bool ok =
      EVP_DecryptInit_ex(context, nullptr, nullptr, nullptr, iv) == 1 &&
      (aad_end == 0 || EVP_DecryptUpdate(context, nullptr, &written, sealed, static_cast<int>(aad_end)) == 1) &&
      EVP_DecryptUpdate(context, out, &written, ciphertext,
                        static_cast<int>(ciphertext_length)) == 1 &&
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) == 1 &&
      EVP_DecryptFinal_ex(context, out + written, &final_written) == 1;
  napi_value result;
  napi_create_int32(env, ok ? static_cast<int32_t>(ciphertext_length) : -1, &result);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value constructor;
  napi_define_class(env, "GcmKey", NAPI_AUTO_LENGTH, Construct, nullptr, 1, methods, &constructor);
  napi_set_named_property(env, exports, "GcmKey", constructor);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
