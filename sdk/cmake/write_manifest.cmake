# Writes a plugin's sidecar manifest; run after the link so the sha256 matches the file on disk.
file(SHA256 ${SO} sha)
get_filename_component(lib ${SO} NAME)
file(WRITE ${OUT} "{
  \"id\": \"${ID}\",
  \"version\": \"${VERSION}\",
  \"library\": \"${lib}\",
  \"abi\": {\"major\": ${ABI_MAJOR}, \"built_minor\": ${BUILT_MINOR}, \"requires_host_minor\": ${REQUIRES_HOST_MINOR}},
  \"architectures\": [${ARCHS}],
  \"roles\": [${ROLES}],
  \"sha256\": \"${sha}\"
}
")
