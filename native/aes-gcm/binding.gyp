{
  "targets": [
    {
      "target_name": "aes_gcm",
      "sources": ["src/aes_gcm.cc"],
      "cflags_cc": ["-O2"]
    }
  ]
}
