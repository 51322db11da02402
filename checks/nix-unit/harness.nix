# Runs a list of renderer tests with builtins only.
#   { name; expr; expected; }  passes when expr (deeply evaluated) == expected
#   { name; throws; }          passes when evaluating `throws` deeply throws
#   { name; throws; message; } ... and `message` is what the renderer throws
#                              (checked by ./run, which sees stderr; tryEval
#                              cannot see the text)
# -> [ { name; ok; got?; expected?; } ]
let
  force = v: builtins.deepSeq v v;
  run =
    t:
    if t ? expected then
      let
        r = builtins.tryEval (force t.expr);
        ok = r.success && r.value == t.expected;
      in
      {
        inherit (t) name;
        inherit ok;
      }
      // (
        if ok then
          { }
        else
          {
            got = if r.success then r.value else "<threw>";
            inherit (t) expected;
          }
      )
    else
      let
        r = builtins.tryEval (force t.throws);
      in
      {
        inherit (t) name;
        ok = !r.success;
      }
      // (if t ? message then { inherit (t) message; } else { })
      // (
        if r.success then
          {
            got = r.value;
            expected = "<a throw>";
          }
        else
          { }
      );
in
tests: map run tests
