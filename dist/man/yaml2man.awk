# yaml2man.awk: lb4.yaml(5) from the commented example configuration
# (dist/lb4.yaml), so the manual page and the installed example cannot
# disagree. Conventions of the example:
#   "# text"        prose (a bare "#" separates paragraphs)
#   "## Title"      a section of settings
#   "#key: value"   a commented-out setting; indentation before the "#" is
#                   its YAML nesting, "#- key: value" starts a list item
# The first line is "# lb4.yaml - summary"; the lines up to the first
# "## " section are the description.
# Usage: awk -v version=0.1.0 -f yaml2man.awk lb4.yaml > lb4.yaml.5
function esc(s) {
  gsub(/\\/, "\\e", s)
  gsub(/-/, "\\-", s)
  if (s ~ /^[.']/) s = "\\&" s
  return s
}
function flush(   i) {
  if (nset > 0) {
    print ".PP"
    print ".nf"
    for (i = 1; i <= nset; i++) print "\\fB" esc(setting[i]) "\\fR"
    print ".fi"
    if (prose != "") {
      print ".RS"
      printf "%s", prose
      print ".RE"
    }
  }
  nset = 0
  prose = ""
  pending = 0
}
BEGIN { depth = 0; inheader = 1; nset = 0; prose = ""; pending = 0 }
NR == 1 {
  line = $0
  sub(/^# */, "", line)
  split(line, parts, / - /)
  print ".TH LB4.YAML 5 \"\" \"lb4 " version "\" \"File Formats\""
  print ".SH NAME"
  print esc(parts[1]) " \\- " esc(substr(line, length(parts[1]) + 4))
  print ".SH SYNOPSIS"
  print ".B /etc/lb4/lb4.yaml"
  print ".SH DESCRIPTION"
  next
}
inheader && /^## / { inheader = 0 }
inheader {
  line = $0
  if (line ~ /^#$/ || line ~ /^$/) { print ".PP"; next }
  sub(/^# ?/, "", line)
  print esc(line)
  next
}
/^## / {
  flush()
  if (!insettings) { print ".SH SETTINGS"; insettings = 1 }
  title = $0
  sub(/^## */, "", title)
  print ".SS " esc(title)
  next
}
/^ *$/ || /^ *#$/ { flush(); next }
/^ *#[^ #]/ {
  # a setting: indentation, then "#", then YAML
  match($0, /^ */)
  indent = RLENGTH
  body = substr($0, indent + 2)
  if (body ~ /^- /) {
    if (depth > 0 && path[depth] !~ /\[\]$/) path[depth] = path[depth] "[]"
    body = substr(body, 3)
    indent += 2
  }
  while (depth > 0 && ind[depth] >= indent) depth--
  key = body
  sub(/:.*/, "", key)
  value = body
  sub(/^[^:]*: ?/, "", value)
  full = ""
  for (i = 1; i <= depth; i++) full = full path[i] "."
  full = full key
  if (value == "") {
    depth++
    ind[depth] = indent
    path[depth] = key
  }
  pending = 1
  if (!(full in seen)) {
    seen[full] = 1
    setting[++nset] = (value == "") ? full ":" : full ": " value
  }
  next
}
/^ *# / {
  if (pending) flush()
  line = $0
  sub(/^ *# /, "", line)
  prose = prose esc(line) "\n"
  next
}
END {
  flush()
  print ".SH FILES"
  print ".TP"
  print ".B /etc/lb4/lb4.yaml"
  print "the configuration file the lb4d service reads"
  print ".TP"
  print ".B /var/lib/lb4/state.json"
  print "the desired state, kept by lb4d"
  print ".SH SEE ALSO"
  print ".BR lb4d (8),"
  print ".BR lb4ctl (8)"
}
