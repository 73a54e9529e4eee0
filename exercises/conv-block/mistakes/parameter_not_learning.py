# The shortcut's batch norm is applied with detached affine parameters: gamma_s and beta_s never learn.
class ConvBlock(ConvBlock):
    def forward(self, x):
        bn = self.shortcut_bn
        sc = F.batch_norm(self.shortcut_conv(x), bn.running_mean, bn.running_var, bn.weight.detach(),
                          bn.bias.detach(), self.training, bn.momentum, bn.eps)
        if self.training:
            bn.num_batches_tracked.add_(1)
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + sc)
