# Sourced by the scripts that run the release build: sets TARGET_DIR to where cargo
# puts it: target/, or $CARGO_TARGET_DIR, or a build.target-dir from a cargo config.
# Run from the repository root.
TARGET_DIR=$(cargo metadata --no-deps --format-version 1 |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
if [[ -z $TARGET_DIR ]]; then
    echo "${0##*/}: cargo metadata gave no target directory" >&2
    exit 2
fi
