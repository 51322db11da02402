{
  description = "hearth: one inventory of a homelab turned into NixOS modules (WireGuard, allowlist firewall, SSH bastion) and age-encrypted secrets";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    agenix = {
      url = "github:ryantm/agenix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    # Deploy tools handed the fleet by hosts/deploy.nix (docs/pins.md says
    # how the locked revisions were verified).
    deploy-rs = {
      url = "github:serokell/deploy-rs";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    colmena = {
      url = "github:zhaofengli/colmena";
      inputs.nixpkgs.follows = "nixpkgs";
      inputs.stable.follows = "nixpkgs";
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      agenix,
      deploy-rs,
      colmena,
    }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # The repository without build output, for the CLI and render-check.
      src = lib.cleanSourceWith {
        src = lib.cleanSource ./.;
        filter = path: type: !(type == "directory" && baseNameOf path == "target");
      };

      # Every host `hearth render` wrote: hosts/<host>/{default,hearth}.nix.
      hosts =
        if builtins.pathExists ./hosts then
          lib.attrNames (
            lib.filterAttrs (
              name: type: type == "directory" && builtins.pathExists (./hosts + "/${name}/hearth.nix")
            ) (builtins.readDir ./hosts)
          )
        else
          [ ];

      # One NixOS module per area, one VM test per area: both found by
      # reading the directory (modules/<area>.nix, checks/vm/<area>.nix;
      # checks/vm's common.nix and lib.nix are helpers).
      areaModules = lib.mapAttrs' (f: _: lib.nameValuePair (lib.removeSuffix ".nix" f) (./modules + "/${f}")) (
        lib.filterAttrs (f: type: type == "regular" && lib.hasSuffix ".nix" f && f != "default.nix") (
          builtins.readDir ./modules
        )
      );
      # The NixOS modules of one rendered host.
      hostModules = host: [
        self.nixosModules.default
        (./hosts + "/${host}/default.nix")
        (./hosts + "/${host}/hearth.nix")
      ];

      # hosts/deploy.nix: per host the SSH target, user, bastion jump, magic
      # rollback and tags (`hearth render` writes it; docs/design.md).
      deployData =
        if builtins.pathExists ./hosts/deploy.nix then import ./hosts/deploy.nix else { nodes = { }; };
      hearthLib = import ./modules/lib;

      vmTests = map (lib.removeSuffix ".nix") (
        lib.attrNames (
          lib.filterAttrs (
            f: type: type == "regular" && lib.hasSuffix ".nix" f && !(lib.elem f [ "common.nix" "lib.nix" ])
          ) (builtins.readDir ./checks/vm)
        )
      );
    in
    {
      # The pure renderers (builtins only), one attribute per area.
      lib = import ./modules/lib;

      nixosModules = areaModules // {
        # Everything hearth needs on a host: its modules and agenix.
        default = {
          imports = [
            ./modules
            agenix.nixosModules.default
            # The hearth CLI, for commands the modules install on hosts
            # (the bastion's hearth-kvm).
            (
              { pkgs, ... }:
              {
                hearth.kvm.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.hearth;
              }
            )
          ];
        };
      };

      nixosConfigurations = lib.genAttrs hosts (host: lib.nixosSystem { modules = hostModules host; });

      # deploy-rs: `deploy .#monitoring01`, `deploy .` for all. LAN hosts are
      # reached with `ssh -J <bastion>` (your ~/.ssh/config entry from
      # `hearth ssh-config`); magic rollback is on for the gateway and the
      # bastion.
      deploy = hearthLib.deploy.deployRs {
        data = deployData;
        activate =
          host:
          let
            cfg = self.nixosConfigurations.${host};
          in
          deploy-rs.lib.${cfg.pkgs.stdenv.hostPlatform.system}.activate.nixos cfg;
      };

      # colmena: `colmena apply`, `colmena apply --on @lan`. `colmena` is the
      # plain hive (colmena 0.4), `colmenaHive` the evaluated one (0.5+).
      colmena = hearthLib.deploy.colmena {
        data = deployData;
        nixpkgs = nixpkgs.legacyPackages.x86_64-linux;
        modules = hostModules;
      };
      colmenaHive = colmena.lib.makeHive self.colmena;

      packages = forAllSystems (pkgs: {
        hearth = pkgs.rustPlatform.buildRustPackage {
          pname = "hearth";
          version = (lib.importTOML ./generator/Cargo.toml).package.version;
          inherit src;
          cargoLock.lockFile = ./Cargo.lock;
          cargoBuildFlags = [
            "-p"
            "hearth"
          ];
          # The CLI's tests need root, network namespaces, wireguard-go and
          # sshd (the lab); they run in checks/run, not in the sandbox.
          doCheck = false;
          # `hearth preview` and `hearth lab` evaluate the same renderers the
          # modules use; ship them next to the binary.
          postInstall = ''
            mkdir -p $out/share/hearth
            cp -r ${./modules/lib} $out/share/hearth/lib
          '';
          meta = {
            description = "Turns one inventory of a homelab into typed Nix attrsets and age-encrypted secrets";
            license = lib.licenses.mit;
            mainProgram = "hearth";
          };
        };
        default = self.packages.${pkgs.stdenv.hostPlatform.system}.hearth;
      });

      apps = forAllSystems (
        pkgs:
        let
          hearth = {
            type = "app";
            program = lib.getExe self.packages.${pkgs.stdenv.hostPlatform.system}.hearth;
            meta.description = "The hearth CLI";
          };
        in
        {
          inherit hearth;
          default = hearth;
        }
      );

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.cargo
            pkgs.rustc
            pkgs.rustfmt
            pkgs.clippy
            pkgs.rust-analyzer
            pkgs.wireguard-tools
            pkgs.age
            agenix.packages.${pkgs.stdenv.hostPlatform.system}.default
            pkgs.nftables
            pkgs.nixfmt
          ];
        };
      });

      # nixfmt is the RFC 166 formatter (the former nixfmt-rfc-style, whose
      # old attribute name only warns in 26.05).
      formatter = forAllSystems (pkgs: pkgs.nixfmt);

      templates.default = {
        path = ./templates/default;
        description = "A homelab managed with hearth (what `hearth init` writes)";
        welcomeText = ''
          Set `inputs.hearth.url` in flake.nix to the flake reference you ran
          `nix flake init -t` with, then `git init && git add -A`: a flake sees
          only the files git tracks. Or use `hearth init`, which fills it in.
        '';
      };

      checks = forAllSystems (
        pkgs:
        let
          system = pkgs.stdenv.hostPlatform.system;
          hearth = self.packages.${system}.hearth;

          # checks/nix-unit/*.nix, evaluated here with the same harness as
          # checks/nix-unit/run.
          unitFiles = lib.filter (f: lib.hasSuffix ".nix" f && f != "fixtures.nix" && f != "harness.nix") (
            lib.attrNames (builtins.readDir ./checks/nix-unit)
          );
          unitResults = lib.concatMap (
            f: map (r: r // { file = f; }) (import ./checks/nix-unit/harness.nix (import (./checks/nix-unit + "/${f}")))
          ) unitFiles;
          unitFailed = lib.filter (r: !r.ok) unitResults;
        in
        lib.listToAttrs (
          map (
            name:
            lib.nameValuePair "vm-${name}" (
              pkgs.testers.runNixOSTest {
                imports = [ (./checks/vm + "/${name}.nix") ];
                defaults.imports = [ self.nixosModules.default ];
              }
            )
          ) vmTests
        )
        // lib.mapAttrs' (
          host: cfg: lib.nameValuePair "host-${host}" cfg.config.system.build.toplevel
        ) (lib.filterAttrs (_: cfg: cfg.pkgs.stdenv.hostPlatform.system == system) self.nixosConfigurations)
        # deploy-rs's own checks (`deploy-schema`: interface.json;
        # `deploy-activate`: every profile has its activation scripts), as
        # deploy-rs recommends, for the nodes of this system.
        // deploy-rs.lib.${system}.deployChecks (
          self.deploy
          // {
            nodes = lib.filterAttrs (
              host: _: self.nixosConfigurations.${host}.pkgs.stdenv.hostPlatform.system == system
            ) self.deploy.nodes;
          }
        )
        // {
          renderer-tests =
            pkgs.runCommand "hearth-renderer-tests"
              {
                report = pkgs.writeText "hearth-renderer-tests.txt" (
                  lib.concatMapStrings (
                    r: "${if r.ok then "PASS" else "FAIL"} ${r.file}: ${r.name}\n"
                  ) unitResults
                );
              }
              ''
                cat "$report"
                echo "${toString (lib.length unitResults - lib.length unitFailed)} passed, ${toString (lib.length unitFailed)} failed"
                ${if unitFailed == [ ] then "touch $out" else "exit 1"}
              '';

          render-check = pkgs.runCommand "hearth-render-check" { nativeBuildInputs = [ hearth ]; } ''
            cp -r ${src} repo
            chmod -R u+w repo
            cd repo
            hearth render --check
            touch $out
          '';
        }
      );
    };
}
