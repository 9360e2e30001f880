# Shared by the scripts that produce committed artefacts (results, shipped teachers): they are
# evidence only when the code that made them is exactly a commit.

# Refuse to run unless the working tree is exactly HEAD (no change, no untracked file that git
# does not ignore): every run then records a commit that identifies its code.
require_clean_tree() {
    if [ -n "$(git status --porcelain)" ]; then
        echo "Error: the working tree has uncommitted changes; commit or stash them first:" >&2
        git status --short >&2
        exit 2
    fi
}
