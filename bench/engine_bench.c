/* engine_bench - placeholder while the store is being written. */
int main(void)
{
    return 1;
}
