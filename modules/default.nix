# All of hearth's NixOS modules, one per area, found by reading this
# directory: every `<area>.nix` here is imported (no list to keep). The
# flake's nixosModules.default adds agenix's module (hearth's secrets are
# agenix secrets).
let
  inherit (builtins) attrNames filter match readDir;
  entries = readDir ./.;
  isArea = n: n != "default.nix" && entries.${n} == "regular" && match ".*\\.nix" n != null;
in
{
  imports = map (n: ./. + "/${n}") (filter isArea (attrNames entries));
}
