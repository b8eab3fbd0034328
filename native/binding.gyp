{
  "targets": [
    {
      "target_name": "facerest_turbojpeg",
      "sources": ["turbojpeg/decode.c", "turbojpeg/shrink.c"],
      "libraries": ["-ldl", "-lpthread"],
      "cflags": ["-O3", "-Wall", "-Wextra"]
    },
    {
      "target_name": "facerest_resize",
      "sources": ["resize/linear.c"],
      "cflags": ["-O3", "-Wall", "-Wextra", "-ffp-contract=off"]
    },
    {
      "target_name": "facerest_colour",
      "sources": ["colour/to-srgb.c"],
      "cflags": ["-O3", "-Wall", "-Wextra"]
    },
    {
      "target_name": "facerest_sampling",
      "sources": ["sampling/addon.c", "sampling/affine.c", "sampling/shrink-gray.c", "sampling/halve.c"],
      "cflags": ["-O3", "-Wall", "-Wextra", "-ffp-contract=off"]
    },
    {
      "target_name": "facerest_clock",
      "sources": ["clock/thread-cpu.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
