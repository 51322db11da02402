# A homelab managed with hearth: `hearth render` writes hosts/<host>/hearth.nix
# and hosts/deploy.nix from inventory.toml; hosts/<host>/default.nix is yours.
# Deploy with deploy-rs (`deploy .`) or colmena (`colmena apply`).
#
# inputs.hearth.url is where your hearth comes from: `hearth init` writes the
# checkout it was built from (or `--hearth FLAKE-REF`); after `nix flake init
# -t FLAKE-REF` put that same FLAKE-REF here.
{
  description = "A homelab managed with hearth";

  inputs = {
    hearth.url = "path:/srv/hearth"; # hearth-input: the flake you got hearth from
    nixpkgs.follows = "hearth/nixpkgs";
    deploy-rs.follows = "hearth/deploy-rs";
    colmena.follows = "hearth/colmena";
  };

  outputs =
    {
      self,
      nixpkgs,
      hearth,
      deploy-rs,
      colmena,
      ...
    }:
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
      hostModules = name: [
        hearth.nixosModules.default
        (./hosts + "/${name}/default.nix")
        (./hosts + "/${name}/hearth.nix")
      ];
      # SSH targets, bastion jumps, magic rollback, tags (`hearth render`).
      deployData =
        if builtins.pathExists ./hosts/deploy.nix then import ./hosts/deploy.nix else { nodes = { }; };
    in
    {
      nixosConfigurations = lib.genAttrs hosts (name: lib.nixosSystem { modules = hostModules name; });

      deploy = hearth.lib.deploy.deployRs {
        data = deployData;
        activate =
          host:
          let
            cfg = self.nixosConfigurations.${host};
          in
          deploy-rs.lib.${cfg.pkgs.stdenv.hostPlatform.system}.activate.nixos cfg;
      };

      colmena = hearth.lib.deploy.colmena {
        data = deployData;
        nixpkgs = nixpkgs.legacyPackages.x86_64-linux;
        modules = hostModules;
      };
      colmenaHive = colmena.lib.makeHive self.colmena;

      checks = lib.mapAttrs (_: deployLib: deployLib.deployChecks self.deploy) deploy-rs.lib;
    };
}
