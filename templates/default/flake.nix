# A homelab managed with hearth: `hearth render` writes hosts/<host>/hearth.nix
# from inventory.toml; hosts/<host>/default.nix is yours.
{
  description = "A homelab managed with hearth";

  inputs = {
    hearth.url = "github:hearth-nix/hearth";
    nixpkgs.follows = "hearth/nixpkgs";
  };

  outputs =
    { nixpkgs, hearth, ... }:
    let
      inherit (nixpkgs) lib;
      # Every host hearth rendered: a directory in hosts/ with a hearth.nix.
      hosts = lib.attrNames (
        lib.filterAttrs (
          name: type: type == "directory" && builtins.pathExists (./hosts + "/${name}/hearth.nix")
        ) (builtins.readDir ./hosts)
      );
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
