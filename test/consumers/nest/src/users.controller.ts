import { Controller, Get, NotFoundException, Param, ParseIntPipe, Post, Redirect, UploadedFile, UseInterceptors } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { Attache } from 'attache';
import { User } from './user.entity';

@Controller('users')
export class UsersController {
  constructor(
    private readonly attache: Attache,
    @InjectRepository(User) private readonly users: Repository<User>,
  ) {}

  /** `POST /users/:name/avatar` with a multipart `avatar` field: a new user with that avatar. */
  @Post(':name/avatar')
  @UseInterceptors(FileInterceptor('avatar'))
  async upload(@Param('name') name: string, @UploadedFile() file: Express.Multer.File): Promise<{ id: number }> {
    const user = await this.users.save(this.users.create({ name }));
    await user.avatar.attach({ io: file.buffer, filename: file.originalname, contentType: file.mimetype });
    return { id: user.id };
  }

  /** `GET /users/:id/avatar`: a redirect to the avatar's signed URL, served by attache's routes. */
  @Get(':id/avatar')
  @Redirect()
  async avatar(@Param('id', ParseIntPipe) id: number): Promise<{ url: string }> {
    const user = await this.users.findOneBy({ id });
    if (!user) throw new NotFoundException();
    await this.attache.withAttached([user], 'avatar');
    if (!(await user.avatar.attached())) throw new NotFoundException();
    return { url: await user.avatar.url() };
  }
}
