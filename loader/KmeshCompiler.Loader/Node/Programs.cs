namespace KmeshCompiler.Loader.Node;

/// <summary>The programs of bpf/kmesh_xdp.c and bpf/kmesh_connect.c, by their C names (the pin names).</summary>
public static class Programs
{
    public const string Entry = "kmesh_xdp";
    public static readonly string[] Stages = ["kmesh_stage_match", "kmesh_stage_clause", "kmesh_stage_rule", "kmesh_stage_policy"];
    public const string Connect4 = "kmesh_connect4";
    public const string Connect6 = "kmesh_connect6";

    public static IEnumerable<string> All => [Entry, .. Stages, Connect4, Connect6];
}
