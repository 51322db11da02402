# Internal helpers for the renderers in this directory: strict parsing of
# IPv4 addresses, CIDRs and ports (the renderers validate their input too,
# as defence in depth), interval arithmetic, and sanitising of names that
# reach a ruleset. builtins only, so `nix-instantiate --eval` can run it.
#
# Not an area: ./default.nix skips util/.
let
  inherit (builtins)
    attrNames
    concatMap
    concatStringsSep
    elemAt
    filter
    foldl'
    fromJSON
    genList
    groupBy
    isInt
    isString
    length
    listToAttrs
    match
    sort
    stringLength
    substring
    toJSON
    ;

  mod = a: b: a - (a / b) * b;

  # pow2.${i} = 2^i for i in 0..32.
  pow2 = foldl' (acc: _: acc ++ [ (2 * elemAt acc (length acc - 1)) ]) [ 1 ] (genList (x: x) 32);

  # Block size of a prefix length -> prefix length, for printing CIDRs.
  sizeToPrefix = listToAttrs (
    genList (p: {
      name = toString (elemAt pow2 (32 - p));
      value = p;
    }) 33
  );

  octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
  cidrRe = "${octet}\\.${octet}\\.${octet}\\.${octet}(/(3[0-2]|[12]?[0-9]))?";
  portRe = "(0|[1-9][0-9]{0,4})(-(0|[1-9][0-9]{0,4}))?";

  show =
    v:
    if builtins.elem (builtins.typeOf v) [ "string" "int" "bool" "null" "float" ] then
      toJSON v
    else
      "a value of type ${builtins.typeOf v}";

  # "10.69.13.0/24" -> { s = <first address as int>; e = <last>; }
  # A plain address is a /32. Host bits must be zero.
  parseCidr =
    what: str:
    let
      m = if isString str then match cidrRe str else null;
      o = i: fromJSON (elemAt m i);
      ip = ((o 0 * 256 + o 1) * 256 + o 2) * 256 + o 3;
      prefix = if elemAt m 5 == null then 32 else fromJSON (elemAt m 5);
      size = elemAt pow2 (32 - prefix);
    in
    if m == null then
      throw "hearth: ${what}: ${show str} is not an IPv4 address or CIDR (a.b.c.d or a.b.c.d/n)"
    else if mod ip size != 0 then
      throw "hearth: ${what}: ${show str} has host bits set; write the network address (${fmtAddr (ip - mod ip size)}/${toString prefix})"
    else
      {
        s = ip;
        e = ip + size - 1;
      };

  # "8000-8100" or "53" (or an int) -> { s; e; }
  parsePort =
    what: p:
    let
      str = if isInt p then toString p else p;
      m = if isString str then match portRe str else null;
      lo = fromJSON (elemAt m 0);
      hi = if elemAt m 2 == null then lo else fromJSON (elemAt m 2);
    in
    if m == null || lo < 1 || hi > 65535 || lo > hi then
      throw "hearth: ${what}: ${show p} is not a port (1-65535) or a port range N-M with N <= M"
    else
      {
        s = lo;
        e = hi;
      };

  fmtAddr =
    n:
    concatStringsSep "." (
      map toString [
        (n / 16777216)
        (mod (n / 65536) 256)
        (mod (n / 256) 256)
        (mod n 256)
      ]
    );

  # An address interval as nftables writes it: address, CIDR or range.
  fmtInterval =
    iv:
    let
      size = iv.e - iv.s + 1;
      prefix = sizeToPrefix.${toString size} or null;
    in
    if iv.s == iv.e then
      fmtAddr iv.s
    else if prefix != null && mod iv.s size == 0 then
      "${fmtAddr iv.s}/${toString prefix}"
    else
      "${fmtAddr iv.s}-${fmtAddr iv.e}";

  fmtPort = iv: if iv.s == iv.e then toString iv.s else "${toString iv.s}-${toString iv.e}";

  uniqueSortedInts =
    l:
    let
      s = sort (a: b: a < b) l;
    in
    map (i: elemAt s i) (filter (i: i == 0 || elemAt s i != elemAt s (i - 1)) (genList (i: i) (length s)));

  # splitIntervals [ { s; e; key; value; } ... ]
  #   -> [ { s; e; id; items; } ... ]
  # Cuts possibly overlapping intervals into disjoint pieces, sorted by
  # address. `items` are the values of every entry covering the piece
  # (unique by key, sorted by key); `id` is a string naming that item set.
  # Adjacent pieces with the same item set are merged, so the result is the
  # coarsest disjoint partition. A sweep over the sorted boundaries, with
  # builtins.genericClosure as the loop so the work stays linear in the number
  # of boundaries (plus the overlap actually present).
  splitIntervals =
    entries:
    let
      bounds = uniqueSortedInts (
        concatMap (x: [
          x.s
          (x.e + 1)
        ]) entries
      );
      nb = length bounds;
      startingAt = groupBy (x: toString x.s) entries;
      state = i: active: {
        key = i;
        active =
          filter (x: x.e >= elemAt bounds i) active ++ (startingAt.${toString (elemAt bounds i)} or [ ]);
      };
      states = builtins.genericClosure {
        startSet = [ (state 0 [ ]) ];
        operator = st: if st.key + 2 >= nb then [ ] else [ (state (st.key + 1) st.active) ];
      };
      piece =
        st:
        let
          byKey = listToAttrs (
            map (x: {
              name = x.key;
              value = x.value;
            }) st.active
          );
          keys = attrNames byKey;
        in
        {
          s = elemAt bounds st.key;
          e = elemAt bounds (st.key + 1) - 1;
          id = toJSON keys;
          items = map (k: byKey.${k}) keys;
        };
      pieces = map piece (filter (st: st.active != [ ]) states);
      np = length pieces;
      isRunStart =
        i:
        i == 0
        || (
          let
            a = elemAt pieces (i - 1);
            b = elemAt pieces i;
          in
          a.e + 1 != b.s || a.id != b.id
        );
      starts = filter isRunStart (genList (i: i) np);
      ns = length starts;
    in
    if entries == [ ] then
      [ ]
    else
      genList (
        k:
        let
          last = if k + 1 < ns then elemAt starts (k + 1) - 1 else np - 1;
        in
        elemAt pieces (elemAt starts k) // { e = (elemAt pieces last).e; }
      ) ns;

  checkList =
    what: l: if builtins.isList l then l else throw "hearth: ${what}: expected a list, got ${show l}";

  # Some addresses/CIDRs -> the same address space as disjoint nftables
  # elements (the kernel rejects overlapping elements in interval sets).
  addressUnion =
    what: addrs:
    map fmtInterval (
      splitIntervals (
        map (
          a:
          parseCidr what a
          // {
            key = "";
            value = "";
          }
        ) (checkList what addrs)
      )
    );

  # Keep only [A-Za-z0-9 ._:-], at most 100 bytes: safe inside `comment "..."`.
  sanitize =
    str:
    let
      chars = genList (i: substring i 1 str) (stringLength str);
      kept = concatStringsSep "" (filter (c: match "[A-Za-z0-9 ._:-]" c != null) chars);
    in
    substring 0 100 kept;

  # The name and value rules, one definition shared with the CLI
  # (./rules.json; generator/src/rules.rs reads the same file).
  rules = fromJSON (builtins.readFile ./rules.json);

  # checkRule "what" "userName" v -> v, or a throw that names the rule.
  checkRule =
    what: rule: v:
    if isString v && match rules.${rule}.re v != null then
      v
    else
      throw "hearth: ${what}: ${show v} is not ${rules.${rule}.desc}";

  checkIfName = what: checkRule what "interface";

  # "10/minute" -> "10/minute", validated.
  checkRate = what: checkRule what "rate";

  checkInt =
    what: lo: hi: v:
    if isInt v && v >= lo && v <= hi then
      v
    else
      throw "hearth: ${what}: ${show v} must be an integer between ${toString lo} and ${toString hi}";
in
{
  inherit
    parseCidr
    parsePort
    fmtAddr
    fmtInterval
    fmtPort
    splitIntervals
    addressUnion
    checkList
    sanitize
    checkIfName
    checkRate
    checkRule
    rules
    checkInt
    show
    ;
}
