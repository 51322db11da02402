# A homelab managed with hearth: `hearth render` writes hosts/<host>/hearth.nix
# from inventory.toml; hosts/<host>/default.nix is yours.
#
# inputs.hearth.url is where your hearth comes from: `hearth init` writes the
# checkout it was built from (or `--hearth FLAKE-REF`); after `nix flake init
# -t FLAKE-REF` put that same FLAKE-REF here.
{
  description = "A homelab managed with hearth";

  inputs = {
    hearth.url = "path:/srv/hearth"; # hearth-input: the flake you got hearth from
    nixpkgs.follows = "hearth/nixpkgs";
  };

  outputs =
    { nixpkgs, hearth, ... }:
    let
      inherit (nixpkgs) lib;
      # Every host hearth rendered: a directory in hosts/ with a hearth.nix
      # and a default.nix. Before the first render (or while git tracks
      # nothing in hosts/, so the flake's source has no hosts/) there is none.
      hosts =
        if builtins.pathExists ./hosts then
          lib.attrNames (
            lib.filterAttrs (
              name: type:
              type == "directory"
              && builtins.pathExists (./hosts + "/${name}/hearth.nix")
              && builtins.pathExists (./hosts + "/${name}/default.nix")
            ) (builtins.readDir ./hosts)
          )
        else
          [ ];
    in
    {
      nixosConfigurations = lib.genAttrs hosts (
        name:
        lib.nixosSystem {
          modules = [
            hearth.nixosModules.default
            (./hosts + "/${name}/default.nix")
            (./hosts + "/${name}/hearth.nix")
          ];
        }
      );
    };
}
