# hearth's renderers: typed host data (hosts/<host>/hearth.nix) -> what a
# program reads. builtins only; the flake's `lib`. See docs/design.md.
#
# One attribute per area, found by reading this directory (no list to keep):
# `<area>.nix`, or `<area>/default.nix` for an area whose renderer has parts.
# `util/` holds helpers shared by the areas (IPv4, ports, types), not an area.
let
  inherit (builtins) attrNames filter listToAttrs map match pathExists readDir;
  entries = readDir ./.;
  areaOf =
    name:
    let
      file = match "(.*)\\.nix" name;
      kind = entries.${name};
    in
    if name == "default.nix" || name == "util" then
      null
    else if kind == "regular" && file != null then
      builtins.head file
    else if kind == "directory" && pathExists (./. + "/${name}/default.nix") then
      name
    else
      null;
  areas = filter (n: areaOf n != null) (attrNames entries);
in
listToAttrs (
  map (n: {
    name = areaOf n;
    value = import (./. + "/${n}");
  }) areas
)
