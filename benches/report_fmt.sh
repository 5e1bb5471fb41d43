# Number formatting shared by the benchmark reports (sourced by compare_report.sh and
# fanout.sh). A missing figure ("" or jq's null) prints as "—" rather than as a zero, so a
# scenario that did not run cannot pass for one that measured nothing.

# 1234567.8 -> "1,234,568"
fmt_int() {
    [ "$1" = null ] || [ -z "$1" ] && { printf -- '—'; return; }
    awk -v v="$1" 'BEGIN {n = sprintf("%.0f", v); s = ""; while (length(n) > 3) {s = "," substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3)} printf "%s%s", n, s}'
}

# 1234567.8 -> "1234568"
fmt_num() { [ "$1" = null ] || [ -z "$1" ] && { printf -- '—'; return; }; LC_ALL=C printf "%.0f" "$1"; }

# a / b as "1.23×"; the third argument is the printf format of the number (default %.3g).
ratio() {
    awk -v a="$1" -v b="$2" -v f="${3:-%.3g}" 'BEGIN {if (a == "" || b == "" || a == "null" || b == "null" || b + 0 == 0) print "—"; else printf f "×", a / b}'
}

# " (saturated)" when a CPU percentage shows the load generator, not the server, set the pace.
sat() { awk -v c="$1" 'BEGIN {if (c != "null" && c != "" && c + 0 >= 90) print " (saturated)"; else print ""}'; }
