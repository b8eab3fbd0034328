{
  "targets": [
    {
      "target_name": "facerest_turbojpeg",
      "sources": ["turbojpeg/decode.c"],
      "libraries": ["-ldl", "-lpthread"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    },
    {
      "target_name": "facerest_resize",
      "sources": ["resize/linear.c"],
      "cflags": ["-O3", "-Wall", "-Wextra", "-ffp-contract=off"]
    }
  ]
}
