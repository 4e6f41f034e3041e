using System.CommandLine;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;

namespace Kmeshc.Commands;

/// <summary>kmeshc check --engine kernel.</summary>
public static class KernelEngine
{
    public static int Check(ParseResult r, Cli.Io io, World world, Connection conn)
    {
        io.Err.WriteLine("kmeshc: error: the kernel engine is not built into this kmeshc yet");
        return Cli.Usage;
    }
}
