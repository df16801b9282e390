{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["udp_batch.cc"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-fno-exceptions"],
      "conditions": [["OS!='linux'", {"type": "none", "sources!": ["udp_batch.cc"]}]]
    }
  ]
}
