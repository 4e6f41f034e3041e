using System.Runtime.InteropServices;

namespace KmeshCompiler.Lowering;

// The decision table of bpf/kmesh_tables.h (km_decisions), mirrored.

public static partial class Layout
{
    public const string MapDecisions = "km_decisions";
    public const uint MaxDecisions = 262144;
    public const uint MaxEvalDecisions = 4096;
    public const uint EvalDecisions = 0x2;
    public const uint EvalDecisionsByDst = 0x4;
    public const uint EvalDecisionsByPort = 0x8;
    public const uint DecisionFixedBits = 224;
    public const uint DecisionOtherPort = 0xffffffff;
    public const int DecisionMaxMatched = 6;
    public const uint DecisionDryRun = 0x80000000;
    public const uint DecisionStages = 0x1;
}

[StructLayout(LayoutKind.Sequential, Size = 48)]
public unsafe struct KmeshDecisionKey
{
    public uint Prefixlen;
    public uint EvalId;
    public uint V6;
    public uint Port;
    public fixed byte Dst[16];
    public fixed byte Src[16];
}

[StructLayout(LayoutKind.Sequential, Size = 40)]
public unsafe struct KmeshDecision
{
    public uint Verdict;
    public uint PolicyId;
    public uint Flags;
    public uint Count;
    public fixed uint Matched[6];
}
