using System.CommandLine;

namespace Kmeshc.Commands;

public static class CheckCommand
{
    public static Command Create()
    {
        var cmd = new Command("check", "TODO");
        return cmd;
    }
}
