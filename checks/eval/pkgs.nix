# A stand-in for `pkgs` in checks/eval: every attribute is a fake derivation
# with a store-path-shaped outPath, so modules can interpolate package paths
# without nixpkgs. writeText keeps its text for the tests to read.
let
  fake = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  names = [
    "bashInteractive"
    "coreutils"
    "curl"
    "hostname"
    "zfs"
    "diffutils"
    "gawk"
    "gnugrep"
    "hearth"
    "gnused"
    "iproute2"
    "google-authenticator"
    "nftables"
    "pam"
    "restic"
    "systemd"
    "wireguard-tools"
    "zfs"
  ];
in
builtins.listToAttrs (
  map (name: {
    inherit name;
    value = fake name;
  }) names
)
// {
  writeText = name: text: fake name // { inherit text; };
  writeShellScriptBin = name: text: fake name // { inherit text; };
  writeShellScript = name: text: fake name // { inherit text; };
}
