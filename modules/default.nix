# All of hearth's NixOS modules. The flake's nixosModules.default adds
# agenix's module (hearth's secrets are agenix secrets).
{
  imports = [
    ./wireguard.nix
    ./allowlist.nix
    ./bastion.nix
  ];
}
