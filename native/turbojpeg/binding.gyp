{
  "targets": [
    {
      "target_name": "facerest_turbojpeg",
      "sources": ["decode.c"],
      "libraries": ["-ldl", "-lpthread"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
