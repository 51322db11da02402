# The hand-written fixtures (fixtures.nix) keep the shape of what `hearth
# render` writes: every fixture has exactly the attribute names, at every
# depth, of the same area in the generated example (hosts/*/hearth.nix). A
# field added to or renamed in the generator makes this fail until the
# fixture follows, so the renderer tests never run on data the generator no
# longer writes (the drift issue 11 found in copied fixtures).
let
  fx = import ./fixtures.nix;
  host = name: (import (../../hosts + "/${name}/hearth.nix")).hearth;
  gateway = host "extgw01";

  # The attribute names at every depth, as "a.b.c" paths. A list of
  # attrsets counts as its elements' union ("a.[].b"); a field that is null on
  # one side (an optional value) is compared by name only.
  # Maps keyed by the user's names (the allowlist's groups) count as one
  # key, `*`.
  keyedByName = [ "sources" ];
  paths =
    prefix: v:
    if builtins.isAttrs v then
      builtins.concatLists (
        map (
          n:
          if builtins.elem n keyedByName && builtins.isAttrs v.${n} then
            [ "${prefix}${n}" ] ++ builtins.concatLists (map (k: [ "${prefix}${n}.*" ] ++ paths "${prefix}${n}.*." v.${n}.${k}) (builtins.attrNames v.${n}))
          else
            [ "${prefix}${n}" ] ++ paths "${prefix}${n}." v.${n}
        ) (builtins.attrNames v)
      )
    else if builtins.isList v && v != [ ] && builtins.all builtins.isAttrs v then
      builtins.concatLists (map (paths "${prefix}[].") v)
    else
      [ ];
  uniq = l: builtins.attrNames (builtins.listToAttrs (map (n: { name = n; value = null; }) l));
  shape = v: uniq (paths "" v);
  # Paths under a name the example has as a list of attrsets or an attrset,
  # but the fixture leaves empty or null (and the other way round), are
  # not comparable; keep only paths whose parent exists on both sides.
  parent = p: let m = builtins.match "(.*)\\.[^.]+" p; in if m == null then "" else builtins.head m;
  comparable = a: b: p: parent p == "" || (builtins.elem (parent p) a && builtins.elem (parent p) b);
  diff =
    fixture: generated:
    let
      a = shape fixture;
      b = shape generated;
    in
    {
      onlyInFixture = builtins.filter (p: !(builtins.elem p b) && comparable a b p) a;
      onlyInGenerated = builtins.filter (p: !(builtins.elem p a) && comparable a b p) b;
    };
  same = {
    onlyInFixture = [ ];
    onlyInGenerated = [ ];
  };
  case = name: fixture: generated: {
    name = "fixture ${name} has the generated shape";
    expr = diff fixture generated;
    expected = same;
  };
  # A fixture for one renderer's corner (hostile names, overlaps) may leave
  # out fields that renderer does not read, but has none the generator does
  # not write.
  part = name: fixture: generated: {
    name = "fixture ${name} has only generated fields";
    expr = (diff fixture generated).onlyInFixture;
    expected = [ ];
  };
in
[
  (case "minimalGateway.wireguard (hosts/extgw01)" fx.minimalGateway.wireguard gateway.wireguard)
  (case "minimalGateway.allowlist (hosts/extgw01)" fx.minimalGateway.allowlist gateway.allowlist)
  (case "minimalGateway.bastion (hosts/extgw01)" fx.minimalGateway.bastion gateway.bastion)
  (part "hostileAllowlist (hosts/extgw01)" fx.hostileAllowlist gateway.allowlist)
  (part "overlapAllowlist (hosts/extgw01)" fx.overlapAllowlist gateway.allowlist)
  {
    name = "fixture shape: a renamed field is found";
    expr = diff (fx.minimalGateway.wireguard // { mtuBytes = 1420; }) gateway.wireguard;
    expected = {
      onlyInFixture = [ "mtuBytes" ];
      onlyInGenerated = [ ];
    };
  }
]
