namespace KmeshCompiler.Benchmarks;

public static class Program
{
    public static int Main(string[] args)
    {
        string which = args.Length > 0 ? args[0] : "";
        switch (which)
        {
            case "kernel": return KernelBench.Run(args[1..]);
            default:
                Console.Error.WriteLine("usage: Benchmarks kernel [--runs N]");
                return 2;
        }
    }
}
